package daemon

import "net/http"

// doctorRoutes serves the self-checks (doctor.go) run inside the daemon.
func (d *Daemon) doctorRoutes() []route {
	return []route{
		{"GET", "/api/v1/doctor", []Role{RoleAdmin}, "Self-checks of the running daemon: configuration, data directory, keys, disk, models, servers, ports, clock (ok, warn or fail, with the fix)",
			func(w http.ResponseWriter, r *http.Request, _ *Principal) {
				writeJSON(w, http.StatusOK, doctorReport(r.Context(), doctorChecks(d.cfg, "", d), "daemon"))
			}},
	}
}
