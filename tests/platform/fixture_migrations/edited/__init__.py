"""The same package after someone edited an applied migration (same version, new text)."""
