package translate

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ApertiumConfig configures the Apertium engine.
type ApertiumConfig struct {
	// ModesDir holds the pairs' mode files. Default /usr/share/apertium/modes.
	ModesDir string `json:"modes_dir"`
	// ProcsPerPair bounds the long-lived processes of one direction; a
	// message that finds them all busy waits for one. Default 2.
	ProcsPerPair int `json:"procs_per_pair"`
	// Preload lists directions whose first process starts with the engine
	// rather than with their first message ("es-en").
	Preload []string `json:"preload"`
	// Timeout bounds the wait for a free pipeline, and then the reply (a
	// fresh pipeline's first reply gets 30s more). Default 10s.
	Timeout Duration `json:"timeout"`
}

// DefaultApertiumConfig returns the defaults.
func DefaultApertiumConfig() ApertiumConfig {
	return ApertiumConfig{ModesDir: "/usr/share/apertium/modes", ProcsPerPair: 2, Timeout: Duration(10 * time.Second)}
}

// Validate reports the first problem with c, naming the field.
func (c ApertiumConfig) Validate() error {
	switch {
	case c.ModesDir == "":
		return errors.New("apertium.modes_dir must be set")
	case c.ProcsPerPair <= 0 || c.ProcsPerPair > 64:
		return fmt.Errorf("apertium.procs_per_pair must be within 1..64, got %d", c.ProcsPerPair)
	case c.Timeout <= 0:
		return fmt.Errorf("apertium.timeout must be positive, got %s", c.Timeout)
	}
	for _, p := range c.Preload {
		if _, err := parsePair(p); err != nil {
			return fmt.Errorf("apertium.preload: %w", err)
		}
	}
	return nil
}

// apertiumModes maps a direction to the mode names Debian's packages use
// for it, preferred first.
var apertiumModes = map[Pair][]string{
	{English, Spanish}: {"eng-spa"}, {Spanish, English}: {"spa-eng"},
	{English, Catalan}: {"eng-cat"}, {Catalan, English}: {"cat-eng"},
	{English, Galician}: {"en-gl"}, {Galician, English}: {"gl-en"},
	{Spanish, Catalan}: {"spa-cat"}, {Catalan, Spanish}: {"cat-spa"},
	{Spanish, Galician}: {"es-gl"}, {Galician, Spanish}: {"gl-es"},
	{Spanish, Portuguese}: {"es-pt"}, {Portuguese, Spanish}: {"pt-es"},
	{Spanish, French}: {"es-fr"}, {French, Spanish}: {"fr-es"},
	{Spanish, Italian}: {"spa-ita"}, {Italian, Spanish}: {"ita-spa"},
	{French, Catalan}: {"fra-cat"}, {Catalan, French}: {"cat-fra"},
	{Portuguese, Catalan}: {"por-cat"}, {Catalan, Portuguese}: {"cat-por"},
	{Portuguese, Galician}: {"pt-gl"}, {Galician, Portuguese}: {"gl-pt"},
	{Catalan, Italian}: {"cat-ita"}, {Italian, Catalan}: {"ita-cat"},
}

// Apertium translates with Debian's Apertium pairs. Each direction has a
// bounded set of long-lived pipelines in null-flush mode: a message is
// written followed by a NUL, and the pipeline answers with its translation
// followed by a NUL, so no message pays the pipeline's start-up (about two
// seconds). A pipeline that dies or hangs is killed and replaced; the
// message is tried once more on a fresh one. Close stops them all.
type Apertium struct {
	cfg     ApertiumConfig
	log     *slog.Logger
	modes   map[Pair]string // installed directions
	mu      sync.Mutex
	pools   map[Pair]*procPool // +checklocks:mu
	closed  bool               // +checklocks:mu
	metrics *apertiumMetrics
	// beforeSend, when set by a test, runs after a process is chosen and
	// before the message is written to it.
	beforeSend func(pid int)
}

var _ Engine = (*Apertium)(nil)

// NewApertium finds the installed pairs and starts the preloaded
// directions. It fails when no pair is installed.
// A nil logger discards logs; a nil reg registers no metrics.
func NewApertium(cfg ApertiumConfig, logger *slog.Logger, reg prometheus.Registerer) (*Apertium, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("translate: config: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newApertiumMetrics(reg)
	if err != nil {
		return nil, err
	}
	a := &Apertium{cfg: cfg, log: logger.With("component", "inference.translate.apertium"), modes: map[Pair]string{}, pools: map[Pair]*procPool{}, metrics: m}
	for p, names := range apertiumModes {
		for _, n := range names {
			if _, err := os.Stat(filepath.Join(cfg.ModesDir, n+".mode")); err == nil {
				a.modes[p] = n
				break
			}
		}
	}
	if len(a.modes) == 0 {
		return nil, fmt.Errorf("translate: apertium: no pair installed in %s (install apertium-eng-spa and the other apertium-* packages)", cfg.ModesDir)
	}
	if _, err := exec.LookPath("apertium-wblank-mode"); err != nil {
		return nil, fmt.Errorf("translate: apertium: %w (install the apertium package)", err)
	}
	for _, s := range cfg.Preload {
		p, _ := parsePair(s)
		pool, err := a.pool(p)
		if err != nil {
			a.Close()
			return nil, err
		}
		pr, err := pool.start()
		if err != nil {
			a.Close()
			return nil, err
		}
		pool.put(pr)
	}
	return a, nil
}

// Name implements Engine.
func (a *Apertium) Name() string { return "apertium" }

// Local implements Engine: Apertium runs on this machine.
func (a *Apertium) Local() bool { return true }

// Pairs implements Engine: the installed directions.
func (a *Apertium) Pairs() []Pair {
	out := make([]Pair, 0, len(a.modes))
	for p := range a.modes {
		out = append(out, p)
	}
	slices.SortFunc(out, func(x, y Pair) int { return strings.Compare(x.String(), y.String()) })
	return out
}

// Mode returns the mode name Apertium uses for p, or "".
func (a *Apertium) Mode(p Pair) string { return a.modes[p] }

// Translate implements Engine for one installed direction.
func (a *Apertium) Translate(ctx context.Context, p Pair, text string) (string, error) {
	pool, err := a.pool(p)
	if err != nil {
		return "", err
	}
	timeout := time.Duration(a.cfg.Timeout)
	var lastErr error
	for attempt := range 2 {
		wait, cancel := context.WithTimeout(ctx, timeout)
		pr, err := pool.get(wait)
		cancel()
		if err != nil {
			return "", fmt.Errorf("translate: apertium %s: %w", p, err)
		}
		if a.beforeSend != nil {
			a.beforeSend(pr.cmd.Process.Pid)
		}
		// A fresh pipeline loads its dictionaries before its first reply.
		limit := timeout
		if !pr.used {
			limit += startGrace
		}
		msg, cancel := context.WithTimeout(ctx, limit)
		out, err := pr.translate(msg, text)
		cancel()
		if err == nil {
			pr.used = true
			pool.put(pr)
			return out, nil
		}
		pool.discard(pr)
		lastErr = err
		a.metrics.restarts.WithLabelValues(p.String()).Inc()
		a.log.Warn("apertium pipeline failed; replaced", "pair", p.String(), "attempt", attempt+1, "err", err)
		if ctx.Err() != nil {
			break
		}
	}
	return "", fmt.Errorf("translate: apertium %s: %w: %w", p, ErrEngineFailed, lastErr)
}

func (a *Apertium) pool(p Pair) (*procPool, error) {
	mode, ok := a.modes[p]
	if !ok {
		return nil, fmt.Errorf("translate: apertium: %w: %s", ErrUnsupportedPair, p)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, errors.New("translate: apertium: closed")
	}
	pool := a.pools[p]
	if pool == nil {
		pool = &procPool{pair: p, mode: filepath.Join(a.cfg.ModesDir, mode+".mode"), max: a.cfg.ProcsPerPair,
			idle: make(chan *proc, a.cfg.ProcsPerPair), slots: make(chan struct{}, a.cfg.ProcsPerPair), m: a.metrics}
		a.pools[p] = pool
	}
	return pool, nil
}

// Close stops every pipeline; translations in flight fail.
func (a *Apertium) Close() error {
	a.mu.Lock()
	pools := a.pools
	a.pools = map[Pair]*procPool{}
	a.closed = true
	a.mu.Unlock()
	for _, p := range pools {
		p.close()
	}
	return nil
}

// Processes returns the process-group ids of the running pipelines, for
// measuring their memory.
func (a *Apertium) Processes() []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []int
	for _, p := range a.pools {
		p.mu.Lock()
		for pr := range p.live {
			out = append(out, pr.cmd.Process.Pid)
		}
		p.mu.Unlock()
	}
	return out
}

// procPool holds the pipelines of one direction. slots counts live
// processes (at most max); idle holds those not in use.
type procPool struct {
	pair   Pair
	mode   string
	max    int
	idle   chan *proc
	slots  chan struct{}
	m      *apertiumMetrics
	mu     sync.Mutex
	script string             // +checklocks:mu
	live   map[*proc]struct{} // +checklocks:mu
	closed bool               // +checklocks:mu
}

// get returns an idle process, starts one if fewer than max live, or waits.
func (pp *procPool) get(ctx context.Context) (*proc, error) {
	select {
	case pr := <-pp.idle:
		return pr, nil
	default:
	}
	select {
	case pr := <-pp.idle:
		return pr, nil
	case pp.slots <- struct{}{}:
		pr, err := pp.start()
		if err != nil {
			<-pp.slots
			return nil, err
		}
		return pr, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("no free pipeline: %w", ctx.Err())
	}
}

// start starts a pipeline; the caller holds a slot (or is preloading, in
// which case start takes one).
func (pp *procPool) start() (*proc, error) {
	pp.mu.Lock()
	if pp.closed {
		pp.mu.Unlock()
		return nil, errors.New("closed")
	}
	if pp.script == "" {
		out, err := exec.Command("apertium-wblank-mode", "-z", pp.mode).Output() // #nosec G204 -- a fixed program; the mode is a configured Apertium language pair, not customer text
		if err != nil {
			pp.mu.Unlock()
			return nil, fmt.Errorf("apertium-wblank-mode %s: %w", pp.mode, err)
		}
		pp.script = string(out)
	}
	script := pp.script
	pp.mu.Unlock()
	// The same arguments as `apertium -u`: generation without unknown-word
	// marks ("-n"), the default tagger option ("").
	cmd := exec.Command("bash", "-c", script, "bash", "-n", "") // #nosec G204 -- the script is what apertium-wblank-mode printed for the configured pair; text goes through stdin
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	// Its own process group, so that killing it ends every stage. If the
	// daemon dies, the stages see the end of their input and exit.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start apertium %s: %w", pp.pair, err)
	}
	pr := &proc{cmd: cmd, stdin: stdin, frames: make(chan []byte, 1), exited: make(chan struct{})}
	go pr.readFrames(bufio.NewReaderSize(stdout, 64*1024))
	go func() { _ = cmd.Wait(); close(pr.exited) }()
	pp.mu.Lock()
	if pp.live == nil {
		pp.live = map[*proc]struct{}{}
	}
	pp.live[pr] = struct{}{}
	closed := pp.closed
	pp.mu.Unlock()
	if closed {
		pr.kill()
		return nil, errors.New("closed")
	}
	pp.m.procs.Inc()
	return pr, nil
}

func (pp *procPool) put(pr *proc) {
	select {
	case pp.idle <- pr:
	default:
		pp.discard(pr) // cannot happen: idle holds max
	}
}

// discard kills a process that failed and frees its slot.
func (pp *procPool) discard(pr *proc) {
	pr.kill()
	pp.mu.Lock()
	if _, ok := pp.live[pr]; ok {
		delete(pp.live, pr)
		pp.m.procs.Dec()
		select {
		case <-pp.slots:
		default:
		}
	}
	pp.mu.Unlock()
}

func (pp *procPool) close() {
	pp.mu.Lock()
	pp.closed = true
	live := make([]*proc, 0, len(pp.live))
	for pr := range pp.live {
		live = append(live, pr)
	}
	pp.mu.Unlock()
	for _, pr := range live {
		pp.discard(pr)
	}
}

// proc is one running pipeline. Only the pool's current holder talks to it.
type proc struct {
	used   bool // has replied once; only the holder touches it
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	frames chan []byte // NUL-terminated replies; closed at end of output
	exited chan struct{}
}

func (pr *proc) readFrames(r *bufio.Reader) {
	defer close(pr.frames)
	for {
		b, err := r.ReadBytes(0)
		if err != nil {
			return
		}
		b = b[:len(b)-1]
		if len(b) == 0 {
			continue // an extra flush; a reply is never empty (deformat ends in "[]")
		}
		pr.frames <- b
	}
}

var errPipelineDied = errors.New("pipeline exited")

// startGrace is added to the first message's timeout on a fresh pipeline,
// which loads its dictionaries first: about 2 s on an idle machine, much
// more on a loaded one.
const startGrace = 30 * time.Second

func (pr *proc) translate(ctx context.Context, text string) (string, error) {
	if _, err := io.WriteString(pr.stdin, deformat(text)+"\x00"); err != nil {
		return "", fmt.Errorf("%w: write: %w", errPipelineDied, err)
	}
	select {
	case b, ok := <-pr.frames:
		if !ok {
			return "", errPipelineDied
		}
		return reformat(string(b)), nil
	case <-ctx.Done():
		return "", fmt.Errorf("no reply: %w", ctx.Err())
	}
}

func (pr *proc) kill() {
	_ = syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGKILL)
	_ = pr.stdin.Close()
	<-pr.exited
}

// deformat turns plain text into Apertium's stream format as the txt
// deformatter (apertium-destxt -n) does: the stream's special characters
// are escaped, a run of blanks other than one space becomes a superblank
// (preceded by an empty one when it starts with a line break), a tilde is
// hidden in a superblank, and an empty superblank closes the text.
func deformat(text string) string {
	var b strings.Builder
	b.Grow(len(text) + 16)
	rs := []rune(text)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case isBlank(r):
			j := i
			for j < len(rs) && isBlank(rs[j]) {
				j++
			}
			run := string(rs[i:j])
			if run == " " {
				b.WriteByte(' ')
			} else {
				if rs[i] == '\n' {
					b.WriteString("[]")
				}
				b.WriteByte('[')
				b.WriteString(run)
				b.WriteByte(']')
			}
			i = j
			continue
		case r == '~':
			b.WriteString("[~]")
		case strings.ContainsRune(`\[]^$@/<>{}`, r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
		i++
	}
	b.WriteString("[]")
	return b.String()
}

func isBlank(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

// reformat turns Apertium's output stream back into plain text, as
// apertium-retxt does: superblanks lose their brackets and escapes are
// resolved.
func reformat(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '[', ']':
			// Superblank delimiters; their content is copied as is.
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
