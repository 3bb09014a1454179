"""Authentication ("who is asking") and authorization policy for the gateway."""
