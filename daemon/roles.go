package daemon

// Role is what a user may do. Roles are fixed; what a supervisor, agent or
// analyst sees is further narrowed to their queues or their own engagements.
type Role string

// The roles of Earshot's API.
const (
	RoleAdmin      Role = "admin"      // everything, including users, tokens, settings, purges
	RoleSupervisor Role = "supervisor" // live and stored engagements of their queues
	RoleAgent      Role = "agent"      // their own engagements
	RoleAnalyst    Role = "analyst"    // quality and workforce data of their queues
	RoleAuditor    Role = "auditor"    // the audit log only
	RoleIngest     Role = "ingest"     // media sources: create engagements, send media
	RoleCompliance Role = "compliance" // the sealed unredacted copies of redacted engagements of their queues
)

// AllRoles lists every role, in the order documentation shows them.
var AllRoles = []Role{RoleAdmin, RoleSupervisor, RoleAgent, RoleAnalyst, RoleAuditor, RoleIngest, RoleCompliance}

func validRole(r string) bool {
	for _, x := range AllRoles {
		if string(x) == r {
			return true
		}
	}
	return false
}

// staff are the roles of contact-centre people (everyone but machines and
// auditors).
var staff = []Role{RoleAdmin, RoleSupervisor, RoleAgent, RoleAnalyst}
