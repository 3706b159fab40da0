"""localbridge: a local emulated EventBridge for Chalice scheduled functions."""
