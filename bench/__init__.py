"""`make bench`: this service against a bare Starlette floor, interleaved in one run."""
