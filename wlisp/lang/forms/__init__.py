"""lang/forms"""
