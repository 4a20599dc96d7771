"""One package per partner, each implementing a port; never imports the store or each other."""
