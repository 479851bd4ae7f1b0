"""Typed HTTP clients for Partner Center and Microsoft Graph (production and the emulator)."""
