"""Pure domain rules: Microsoft New Commerce rules, money, add-ons, upgrades and the planner."""
