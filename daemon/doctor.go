package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/earshot/earshot/daemon/api"
	"github.com/earshot/earshot/daemon/doctor"
	"github.com/earshot/earshot/inference/builtin/intents"
	"github.com/earshot/earshot/store"
	storekeys "github.com/earshot/earshot/store/keys"
)

// The self-checks of `earshot doctor` and GET /api/v1/doctor. The same
// list runs in two places: inside the running daemon (live: its own
// listeners count as bound, the keys are probed through the open store),
// or from the command line while the daemon is stopped (offline: ports
// must be free, the key store is opened read-only). Nothing here writes
// to the data directory.

// doctorTimeout bounds each check.
const doctorTimeout = 10 * time.Second

// minFreeDisk fails the disk check below it.
const minFreeDisk = 64 << 20

// ServiceUser is the user the packaged unit runs the daemon as, in
// serviceDataDir.
const (
	ServiceUser    = "earshot"
	serviceDataDir = "/var/lib/earshot"
)

// RunDoctor runs the checks offline for the configuration file at path
// (the daemon stopped, or the command cannot reach it).
func RunDoctor(ctx context.Context, path string) api.DoctorReport {
	cfg, err := LoadConfig(path, false)
	var checks []doctor.Check
	if err != nil {
		checks = []doctor.Check{{Name: "config", Run: func(context.Context) doctor.Result {
			return doctor.Failf("edit "+path+"; `earshot config check "+path+"` names the first problem", "%v", err)
		}}}
	} else {
		checks = doctorChecks(cfg, path, nil)
	}
	return doctorReport(ctx, checks, "offline")
}

func doctorReport(ctx context.Context, checks []doctor.Check, mode string) api.DoctorReport {
	res := doctor.Run(ctx, checks, doctorTimeout)
	rep := api.DoctorReport{Status: string(doctor.Worst(res)), Version: Version, Mode: mode}
	for _, r := range res {
		rep.Checks = append(rep.Checks, api.DoctorCheck{Name: r.Name, Status: string(r.Status), Message: r.Message, Fix: r.Fix})
	}
	return rep
}

// doctorChecks lists the checks for cfg; d is the running daemon, or nil
// offline.
func doctorChecks(cfg Config, path string, d *Daemon) []doctor.Check {
	live := d != nil
	check := func(name string, run func(ctx context.Context) doctor.Result) doctor.Check {
		return doctor.Check{Name: name, Run: run}
	}
	cs := []doctor.Check{
		check("config", func(context.Context) doctor.Result {
			where := path
			if live {
				where = "the configuration in force"
			}
			return doctor.Okf("%s is valid (listen %s, tls %s, data_dir %s)", where, cfg.Listen, cfg.TLS.Mode, cfg.DataDir)
		}),
		check("data_dir", func(context.Context) doctor.Result { return checkDataDir(cfg.DataDir) }),
		check("keys", func(ctx context.Context) doctor.Result { return checkKeys(ctx, cfg, d) }),
		check("disk", func(context.Context) doctor.Result {
			r := cfg.Store.Retention
			ret := fmt.Sprintf("retention: transcripts %s, outputs %s, audit %d days", days(r.TranscriptDays), days(r.OutputDays), r.AuditDays)
			return doctor.DiskSpace(cfg.DataDir, doctor.DirSize(cfg.DataDir), minFreeDisk, ret)
		}),
		check("speech_model", func(context.Context) doctor.Result { return checkSpeechModel(cfg) }),
		check("intents", func(context.Context) doctor.Result { return checkIntents(cfg) }),
		check("translation", func(context.Context) doctor.Result { return checkApertium(cfg, d) }),
		check("listen", func(context.Context) doctor.Result {
			if live {
				return doctor.Okf("the API listens on %s (this daemon)", cfg.Listen)
			}
			return doctor.Bindable("API", "tcp", cfg.Listen)
		}),
		check("clock", func(context.Context) doctor.Result {
			nb, what := buildTime(), "this build's commit time"
			if !live { // while the daemon runs its files are written now
				for _, f := range []string{store.DBFile, store.KeysFile} {
					if st, err := os.Stat(filepath.Join(cfg.DataDir, f)); err == nil && st.ModTime().After(nb) {
						nb, what = st.ModTime(), "the last write of "+filepath.Join(cfg.DataDir, f)
					}
				}
			}
			return doctor.Clock(time.Now(), nb, what)
		}),
	}
	if len(cfg.Ollama.Models) > 0 {
		cs = append(cs, check("ollama", func(ctx context.Context) doctor.Result { return checkOllama(ctx, cfg) }))
	}
	if u := cfg.Translate.LibreTranslate.URL; u != "" && slices.Contains(cfg.Translate.Engines, "libretranslate") {
		cs = append(cs, check("libretranslate", func(ctx context.Context) doctor.Result {
			return doctor.HTTPGet(ctx, &http.Client{}, "LibreTranslate", strings.TrimRight(u, "/")+"/languages",
				"chats are translated by the next engine (Apertium)", "start the LibreTranslate server or remove it from translate.engines")
		}))
	}
	switch cfg.TLS.Mode {
	case "files":
		cs = append(cs, check("tls", func(context.Context) doctor.Result {
			return doctor.CertExpiry("tls.cert_file", cfg.TLS.CertFile, time.Now(), 30)
		}))
	case "auto":
		cs = append(cs, check("tls", func(context.Context) doctor.Result {
			p := filepath.Join(cfg.DataDir, "tls", "cert.pem")
			if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
				return doctor.Okf("tls: auto; the first start generates %s", p)
			}
			return doctor.CertExpiry("the generated certificate", p, time.Now(), 30)
		}))
	}
	if sc := cfg.Media.SIP; sc.Enabled {
		cs = append(cs, check("sip", func(context.Context) doctor.Result { return checkSIP(cfg, live) }))
		if sc.TLSCert != "" {
			cs = append(cs, check("sip_tls", func(context.Context) doctor.Result {
				return doctor.CertExpiry("media.sip.tls_cert", sc.TLSCert, time.Now(), 30)
			}))
		}
	}
	if w := cfg.Media.WHIP; w.UDPPortMin != 0 {
		cs = append(cs, check("whip", func(context.Context) doctor.Result {
			return doctor.PortRange("WHIP (WebRTC ICE)", "", int(w.UDPPortMin), int(w.UDPPortMax), 1)
		}))
	}
	return cs
}

func days(n int) string {
	if n == 0 {
		return "until purged"
	}
	return strconv.Itoa(n) + " days"
}

// checkDataDir: the data directory and its files are private to their
// owner (the generated certificate and the plugin folder excepted), owned
// by the service user when the command runs as root beside the packaged
// service, and writable by the daemon.
func checkDataDir(dir string) doctor.Result {
	r := doctor.Private("data directory", dir, "plugins", "cert.pem", store.BackupsDir)
	if r.Status != doctor.OK {
		return r
	}
	if os.Geteuid() == 0 && filepath.Clean(dir) == serviceDataDir {
		if u, err := user.Lookup(ServiceUser); err == nil {
			st, err := os.Stat(dir)
			if sys, ok := st.Sys().(*syscall.Stat_t); err == nil && ok && strconv.Itoa(int(sys.Uid)) != u.Uid {
				return doctor.Failf(fmt.Sprintf("chown -R %s:%s %s (was the daemon run as root by hand?)", ServiceUser, ServiceUser, dir),
					"%s is owned by uid %d, not by the service user %s", dir, sys.Uid, ServiceUser)
			}
		}
		return r
	}
	return doctor.Writable(dir)
}

// checkKeys: the KEK is private (file provider), and a random key wraps
// and unwraps through the provider: through the open store when live,
// else by opening keys.db read-only (which also unwraps the site secrets).
func checkKeys(ctx context.Context, cfg Config, d *Daemon) doctor.Result {
	kc := cfg.Store.Keys
	if kc.Provider == storekeys.ProviderFile || kc.Provider == "" {
		dir := kc.FileDir(cfg.DataDir)
		if _, err := os.Stat(dir); err == nil {
			if r := doctor.Private("KEK directory", dir); r.Status != doctor.OK {
				return r
			}
		}
	}
	fix := map[string]string{
		storekeys.ProviderFile:   "restore the KEK files (kek-N.key, mode 0600) from where the site keeps them",
		storekeys.ProviderPKCS11: "check the HSM: the module path, the token label, the PIN file, and that the token is present",
		storekeys.ProviderPlugin: "check the keys plugin and its key service (GET /api/v1/plugins shows its state)",
	}[kc.Provider]
	if d != nil {
		name, v, err := d.store.ProbeKeys(ctx)
		if err != nil {
			return doctor.Failf(fix, "key provider %s: %v", name, err)
		}
		return doctor.Okf("key provider %s wraps and unwraps under KEK version %d", name, v)
	}
	keysPath := filepath.Join(cfg.DataDir, store.KeysFile)
	if _, err := os.Stat(keysPath); errors.Is(err, os.ErrNotExist) {
		if kc.Provider == storekeys.ProviderPKCS11 {
			p, err := storekeys.NewProvider(kc, cfg.DataDir)
			if err != nil {
				return doctor.Failf(fix, "key provider pkcs11: %v", err)
			}
			p.Close()
			return doctor.Okf("the HSM token answers; no key store yet (the first start creates KEK version 1)")
		}
		return doctor.Warnf("start the service once: it creates the key store and KEK version 1", "no key store yet (%s)", keysPath)
	}
	var res doctor.Result
	err := withOfflineKeys(cfg, func(p storekeys.Provider) error {
		if p == nil {
			if kc.Provider == storekeys.ProviderFile || kc.Provider == "" {
				if _, err := os.Stat(kc.FileDir(cfg.DataDir)); err != nil {
					return fmt.Errorf("the KEK directory: %w", err)
				}
			}
			var err error
			if p, err = storekeys.NewProvider(kc, cfg.DataDir); err != nil {
				return err
			}
		}
		ring, err := storekeys.Open(ctx, keysPath, p, storekeys.Options{ReadOnly: true, LockTimeout: time.Second})
		if errors.Is(err, storekeys.ErrInUse) {
			res = doctor.Warnf("run `earshot doctor` without --offline: the running daemon checks its keys itself",
				"the running daemon holds %s", keysPath)
			return nil
		}
		if err != nil {
			return err
		}
		defer ring.Close()
		v, err := ring.Probe(ctx)
		if err != nil {
			return err
		}
		res = doctor.Okf("key provider %s unwraps the site secrets, wraps and unwraps under KEK version %d", p.Name(), v)
		return nil
	})
	if err != nil {
		return doctor.Failf(fix, "key provider %s: %v", kc.Provider, err)
	}
	return res
}

func checkSpeechModel(cfg Config) doctor.Result {
	if cfg.Media.Engine == "none" {
		return doctor.Okf("speech recognition is off (media.engine: none)")
	}
	ps := cfg.Media.PocketSphinx
	r := doctor.Files("PocketSphinx model", "apt-get install pocketsphinx-en-us (or point media.pocketsphinx at the site's model)",
		filepath.Join(ps.ModelDir, "mdef"), filepath.Join(ps.ModelDir, "feat.params"), ps.LM, ps.Dict)
	if r.Status == doctor.OK {
		r.Message = fmt.Sprintf("PocketSphinx model %s, language model %s, dictionary %s present", ps.ModelDir, ps.LM, ps.Dict)
	}
	return r
}

func checkIntents(cfg Config) doctor.Result {
	name := cfg.Analytics.DefaultIntents
	if name == "none" {
		return doctor.Okf("no default intent set (analytics.default_intents: none)")
	}
	sets, err := intents.Load(name)
	if err != nil {
		return doctor.Failf("reinstall the package: the intent set is built into the binary", "default intents %s: %v", name, err)
	}
	return doctor.Okf("default intent set %s: %d intents built in", name, len(sets))
}

// checkApertium: chat translation needs Apertium's pairs; a site that
// names languages other than the analysis language needs them installed.
func checkApertium(cfg Config, d *Daemon) doctor.Result {
	tc := cfg.Translate
	needed := tc.AgentLanguage != tc.AnalysisLanguage
	for _, l := range tc.QueueLanguages {
		needed = needed || l != tc.AnalysisLanguage
	}
	const modesDir = "/usr/share/apertium/modes"
	modes, _ := filepath.Glob(filepath.Join(modesDir, "*.mode"))
	_, binErr := exec.LookPath("apertium")
	fix := "apt-get install apertium and the pairs the site's languages need (apertium-eng-spa, apertium-es-pt, ...)"
	switch {
	case len(modes) == 0 || binErr != nil:
		msg := fmt.Sprintf("Apertium is not installed (%d pairs in %s): auto_translate is unavailable", len(modes), modesDir)
		if needed {
			return doctor.Failf(fix, "%s, and translate names languages other than %s", msg, tc.AnalysisLanguage)
		}
		return doctor.Warnf(fix+", if chats are to be translated", "%s", msg)
	case d != nil && d.translator == nil:
		return doctor.Warnf("see the daemon's log at start (auto_translate unavailable)", "Apertium is installed but chat translation did not start")
	}
	var names []string
	for _, m := range modes {
		names = append(names, strings.TrimSuffix(filepath.Base(m), ".mode"))
	}
	return doctor.Okf("Apertium: %d translation directions installed (%s)", len(names), strings.Join(names, ", "))
}

// checkOllama: the server answers and has every configured model.
func checkOllama(ctx context.Context, cfg Config) doctor.Result {
	url := strings.TrimRight(cfg.Ollama.URL, "/") + "/api/tags"
	fix := "start the Ollama server (systemctl start ollama) or remove ollama.models"
	const consequence = "the built-in models answer instead"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return doctor.Failf("fix ollama.url", "Ollama: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return doctor.Failf(fix, "Ollama at %s does not answer (%v): %s", cfg.Ollama.URL, err, consequence)
	}
	defer resp.Body.Close()
	var tags struct {
		Models []struct {
			Name string `json:"name"`
		} `json:"models"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&tags) != nil {
		return doctor.Failf(fix, "Ollama at %s answers %s, not a model list: %s", cfg.Ollama.URL, resp.Status, consequence)
	}
	have := map[string]bool{}
	for _, m := range tags.Models {
		have[m.Name] = true
		have[strings.TrimSuffix(m.Name, ":latest")] = true
	}
	var missing []string
	for f, m := range cfg.Ollama.Models {
		if !have[m] {
			missing = append(missing, fmt.Sprintf("%s (%s)", m, f))
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		return doctor.Failf("ollama pull each missing model", "Ollama at %s lacks %s: %s", cfg.Ollama.URL, strings.Join(missing, ", "), consequence)
	}
	return doctor.Okf("Ollama at %s answers and has the %d configured models", cfg.Ollama.URL, len(cfg.Ollama.Models))
}

// checkSIP: the SIP listeners can be bound (offline) and the RTP range has
// room for the configured calls (two streams each).
func checkSIP(cfg Config, live bool) doctor.Result {
	sc := cfg.Media.SIP
	if !live {
		for _, l := range []struct{ network, addr string }{{"udp", sc.UDP}, {"tcp", sc.TCP}, {"tcp", sc.TLS}} {
			if l.addr == "" {
				continue
			}
			if r := doctor.Bindable("SIP", l.network, l.addr); r.Status != doctor.OK {
				return r
			}
		}
	}
	host := sc.MediaIP
	if ip := net.ParseIP(host); ip == nil {
		host = ""
	}
	r := doctor.PortRange("SIP RTP", host, sc.RTPPortMin, sc.RTPPortMax, 1)
	if r.Status == doctor.OK {
		r.Message = fmt.Sprintf("SIP on %s; %s", strings.Trim(strings.Join([]string{sc.UDP, sc.TCP, sc.TLS}, " "), " "), r.Message)
	}
	return r
}

// buildTime is when this build's commit was made (zero if unknown).
func buildTime() time.Time {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return time.Time{}
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.time" {
			t, _ := time.Parse(time.RFC3339, s.Value)
			return t
		}
	}
	return time.Time{}
}
