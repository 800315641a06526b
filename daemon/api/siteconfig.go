package api

import "github.com/earshot/earshot/store/bundle"

// SiteConfigPlan is the answer of POST /api/v1/config/bundle/apply: what
// applying a signed site configuration bundle changes (dry_run) or
// changed on this box.
type SiteConfigPlan struct {
	DryRun bool `json:"dry_run"`
	// BundleSHA256 is the checksum of the bundle's signed contents; the
	// audit entries of the changes name it.
	BundleSHA256 string `json:"bundle_sha256"`
	KeyID        string `json:"key_id"`
	Exporter     string `json:"exporter,omitempty"`
	Schema       uint64 `json:"schema"`
	// Changes lists every difference, in the order they are applied;
	// "keep" entries are records of this box the bundle leaves alone.
	Changes []bundle.Change `json:"changes"`
	// Applied counts the changes written (0 for a dry run).
	Applied int `json:"applied"`
}
