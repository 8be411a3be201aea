"""The special forms, one table (`FORMS`) per module; `lang/language.py` assembles them."""
