"""Information release: notices drafted, approved by content type, published on channels (seed 003 二(十))."""
