"""A tiny service-like package whose `migrations/` folder the store tests apply."""
