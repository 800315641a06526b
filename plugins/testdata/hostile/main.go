// Command hostile is a test plugin that attacks the host that runs it. It
// serves the info and knowledge kinds; what its Cards call does depends on
// the engagement ID it is asked about:
//
//	probe  try to read each path of config "read" (one per line), to create
//	       a file in each folder of config "write", to read
//	       /proc/<config daemon_pid>/environ and to signal that process;
//	       one field per attempt: "ok <bytes>" or "denied: <error>"
//	spawn  start /bin/sleep as a plain child, a setsid'd child, and an
//	       orphan in a session of its own (via sh, which exits); fields
//	       give their process IDs
//	flood  answer with config "flood_bytes" bytes of cards
//
// Changes answers config "articles" articles of config "article_bytes"
// bytes per page, ignoring the limit asked for when config "ignore_limit"
// is "yes", always with more to come.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/earshot/earshot/plugins/sdk"
)

func main() {
	h := &hostile{}
	sdk.Serve(&sdk.Plugin{Name: filepath.Base(os.Args[0]), Version: "0.0.1", Configure: h.configure, Info: h, Knowledge: h})
}

type hostile struct {
	mu  sync.Mutex
	cfg map[string]string
}

func (h *hostile) configure(_ context.Context, cfg map[string]string) error {
	h.mu.Lock()
	h.cfg = cfg
	h.mu.Unlock()
	return nil
}

func (h *hostile) conf(k string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cfg[k]
}

func (h *hostile) Cards(ctx context.Context, e sdk.Engagement) ([]sdk.Card, error) {
	switch e.EngagementID {
	case "probe":
		return []sdk.Card{{Title: "probe", Fields: h.probe()}}, nil
	case "spawn":
		return []sdk.Card{{Title: "spawn", Fields: spawn()}}, nil
	case "flood":
		n, _ := strconv.Atoi(h.conf("flood_bytes"))
		var cards []sdk.Card
		chunk := strings.Repeat("x", 64<<10)
		for size := 0; size < n; size += len(chunk) {
			cards = append(cards, sdk.Card{Title: "flood", Fields: []sdk.Field{{Key: "x", Label: "x", Value: chunk}}})
		}
		return cards, nil
	}
	return nil, sdk.ErrNotFound
}

func field(key string, err error, n int) sdk.Field {
	if err != nil {
		return sdk.Field{Key: key, Label: key, Value: "denied: " + err.Error()}
	}
	return sdk.Field{Key: key, Label: key, Value: fmt.Sprintf("ok %d", n)}
}

func (h *hostile) probe() []sdk.Field {
	var out []sdk.Field
	for _, p := range strings.Split(h.conf("read"), "\n") {
		if p == "" {
			continue
		}
		var n int
		b, err := os.ReadFile(p)
		if err == nil {
			n = len(b)
		}
		if fi, serr := os.Stat(p); serr == nil && fi.IsDir() {
			var ents []os.DirEntry
			ents, err = os.ReadDir(p)
			n = len(ents)
		}
		out = append(out, field("read "+p, err, n))
	}
	for _, d := range strings.Split(h.conf("write"), "\n") {
		if d == "" {
			continue
		}
		p := filepath.Join(d, "hostile-was-here")
		err := os.WriteFile(p, []byte("x"), 0o644)
		out = append(out, field("write "+d, err, 1))
	}
	if pid := h.conf("daemon_pid"); pid != "" {
		b, err := os.ReadFile("/proc/" + pid + "/environ")
		out = append(out, field("environ", err, len(b)))
		p, _ := strconv.Atoi(pid)
		out = append(out, field("signal", syscall.Kill(p, 0), 0))
	}
	wd, _ := os.Getwd()
	out = append(out, field("write workdir", os.WriteFile(filepath.Join(wd, "scratch"), []byte("x"), 0o600), 1))
	return out
}

func spawn() []sdk.Field {
	var out []sdk.Field
	start := func(key string, cmd *exec.Cmd) {
		err := cmd.Start()
		if err != nil {
			out = append(out, field(key, err, 0))
			return
		}
		out = append(out, sdk.Field{Key: key, Label: key, Value: strconv.Itoa(cmd.Process.Pid)})
		go cmd.Wait() // reap it if it ever ends
	}
	start("plain", exec.Command("/bin/sleep", "3600"))
	setsid := exec.Command("/bin/sleep", "3600")
	setsid.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	start("setsid", setsid)
	// An orphan: sh starts sleep in the background in a new session and
	// exits at once, so that sleep's parent is gone.
	orphan := exec.Command("/bin/sh", "-c", "/bin/sleep 3600 </dev/null >/dev/null 2>&1 & echo $!")
	orphan.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	b, err := orphan.Output()
	if err != nil {
		out = append(out, field("orphan", err, 0))
	} else {
		out = append(out, sdk.Field{Key: "orphan", Label: "orphan", Value: strings.TrimSpace(string(b))})
	}
	return out
}

func (h *hostile) Changes(ctx context.Context, cursor string, limit int) (sdk.Changes, error) {
	n, _ := strconv.Atoi(h.conf("articles"))
	size, _ := strconv.Atoi(h.conf("article_bytes"))
	if h.conf("ignore_limit") != "yes" && n > limit {
		n = limit
	}
	page, _ := strconv.Atoi(cursor)
	body := strings.Repeat("lorem ipsum ", size/12+1)[:size]
	ch := sdk.Changes{NextCursor: strconv.Itoa(page + 1), More: true}
	for i := range n {
		ch.Articles = append(ch.Articles, sdk.Article{ID: fmt.Sprintf("p%d-a%d", page, i), Title: "flood", Body: body, Updated: time.Unix(int64(page), 0).UTC()})
	}
	return ch, nil
}
