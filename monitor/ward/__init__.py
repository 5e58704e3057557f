"""The ward: bedside publishers and central stations over Redis Streams (docs/ward.md)."""
