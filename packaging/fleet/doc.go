// Package fleet holds the fleet test (build tag fleettest, make
// fleet-test): two Earshot daemons on their own loopback addresses behind
// Kamailio's dispatcher, receiving SIPREC calls from SIPp. docs/scaling.md
// describes the deployment it reproduces.
package fleet
