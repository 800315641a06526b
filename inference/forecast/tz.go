package forecast

// The time zone database is embedded so that a site's zone (ImportOptions,
// Series.Location, time.LoadLocation in callers) loads on an appliance
// whose OS lacks tzdata; about 450 kB of binary.
import _ "time/tzdata"
