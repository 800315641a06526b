package api

// DoctorCheck is one self-check's verdict (GET /api/v1/doctor, `earshot
// doctor`): status ok, warn or fail; Fix says what to do when not ok.
type DoctorCheck struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

// DoctorReport is the answer of GET /api/v1/doctor: the worst status,
// where the checks ran ("daemon": inside the running daemon; "offline":
// by the command, with the daemon stopped) and each check in order.
type DoctorReport struct {
	Status  string        `json:"status"`
	Version string        `json:"version"`
	Mode    string        `json:"mode"`
	Checks  []DoctorCheck `json:"checks"`
}
