package wire

// DecideOnceTrusting is DecideOnce trusting an owner of uid trust.
var DecideOnceTrusting = decideOnce
