"""Community safety affairs: special populations, abnormal events, public health, education, archives."""
