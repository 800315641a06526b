// Package wfm turns forecasts into published schedules and keeps them on
// track during the day: rosters and site rules, an optimiser that makes a
// schedule for one to four weeks, an independent checker of every rule,
// intraday re-forecasting with adjustments, and what-if staffing.
//
// A Problem is a Period (whole weeks from a local midnight, planned in 15-
// or 30-minute intervals), a Roster of agents (skills = queues, contracted
// hours, availability and preferences), the site's Rules (shift templates
// with their start times and break windows, rest, days in a row, days off,
// the contract band, weekends) and the Demand per queue and interval:
// agents scheduled, shrinkage included, usually from a forecast's staffing
// plan (DemandFromPlan over inference/forecast's Staff).
//
// Solve makes a Schedule: shifts with their breaks, the Stats of its
// coverage (under- and over-staffed agent-intervals, missed preferences),
// and Explanations of everything it cannot give: weeks short of a contract
// when the agent cannot work enough, demand beyond the roster's capacity,
// intervals needing more agents than could be there. Multi-skilled agents
// count for whichever of their queues needs them most (a maximum flow per
// quarter hour). Check lists the hard rules a schedule breaks, from its
// times alone; Evaluate measures any schedule. NewMIP writes the same
// model for an external MIP solver (GLPK), which is how the optimiser is
// measured.
//
// ReforecastDay updates a day's forecast from the arrivals seen so far;
// PlanIntraday shows the gap for the rest of the day and proposes moved
// breaks, voluntary overtime and time off, ranked by the gap they close.
// WhatIf restaffs forecasts under changed volume, handle time, service
// level or shrinkage and measures a schedule against the result.
//
// Rosters move as CSV (ReadRosterCSV, WriteRosterCSV: bad rows are named
// by line and column), rules as JSON (ReadRules), schedules as JSON or CSV
// (WriteScheduleCSV). Agents' names are personal data: nothing here logs
// them, and charts (package chart) show agent IDs.
package wfm
