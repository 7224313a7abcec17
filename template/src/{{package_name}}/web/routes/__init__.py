"""HTTP routes, one module per area of the contract (DESIGN section 5)."""
