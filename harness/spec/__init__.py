"""Layer 1, what users and runs write down: the suite specs (config), answer styles, and the typed run record of results.json."""
