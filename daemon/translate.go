package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/ollama"
	"github.com/earshot/earshot/inference/translate"
	"github.com/earshot/earshot/store"
)

// featureAutoTranslate is the feature control of chat translation.
const featureAutoTranslate Feature = "auto_translate"

// TranslateConfig configures the translation of chat messages between the
// customer's and the agent's languages (the auto_translate feature).
type TranslateConfig struct {
	// AnalysisLanguage is the language the analyzers read; messages in
	// other languages are also translated into it. Default en.
	AnalysisLanguage string `yaml:"analysis_language"`
	// AgentLanguage is an agent's language when their user record names
	// none. Default en.
	AgentLanguage string `yaml:"agent_language"`
	// QueueLanguages fixes the customer language of a queue's chats
	// (queue ID to language), instead of identifying it.
	QueueLanguages map[string]string `yaml:"queue_languages"`
	// ProcsPerPair bounds the Apertium pipelines per direction. Default 2.
	ProcsPerPair int `yaml:"procs_per_pair"`
	// Glossary lists the site's terms, never translated or translated a
	// fixed way.
	Glossary []GlossaryTerm `yaml:"glossary"`
	// Engines lists the engines to try before Apertium, in order:
	// "ollama" (the model of ollama.models.generate) and
	// "libretranslate". Apertium is always the last resort. Default none.
	Engines []string `yaml:"engines"`
	// LibreTranslate is the site's LibreTranslate server, for the
	// "libretranslate" engine.
	LibreTranslate LibreTranslateConfig `yaml:"libretranslate"`
}

// LibreTranslateConfig is the site's LibreTranslate server.
type LibreTranslateConfig struct {
	URL string `yaml:"url"`
	// SiteHosted declares a server off loopback to be the site's own, so
	// that it serves under local-models-only.
	SiteHosted bool     `yaml:"site_hosted"`
	APIKeyFile string   `yaml:"api_key_file"`
	Timeout    Duration `yaml:"timeout"`
}

// GlossaryTerm is one glossary entry of the configuration.
type GlossaryTerm struct {
	Text  string            `yaml:"text"`
	Fixed map[string]string `yaml:"fixed"`
}

func defaultTranslateConfig() TranslateConfig {
	return TranslateConfig{AnalysisLanguage: "en", AgentLanguage: "en", ProcsPerPair: 2}
}

// translator converts the configuration into the translate package's.
func (c TranslateConfig) translator() (translate.Config, error) {
	tc := translate.DefaultConfig()
	for i, g := range c.Glossary {
		t := translate.Term{Text: g.Text}
		for l, f := range g.Fixed {
			lang, err := translate.ParseLang(l)
			if err != nil {
				return tc, fmt.Errorf("translate.glossary[%d].fixed: %w", i, err)
			}
			if t.Fixed == nil {
				t.Fixed = map[translate.Lang]string{}
			}
			t.Fixed[lang] = f
		}
		tc.Glossary = append(tc.Glossary, t)
	}
	return tc, tc.Validate()
}

// Validate reports the first problem, naming the field.
func (c TranslateConfig) Validate() error {
	for name, l := range map[string]string{"analysis_language": c.AnalysisLanguage, "agent_language": c.AgentLanguage} {
		if _, err := translate.ParseLang(l); err != nil {
			return fmt.Errorf("translate.%s: %w", name, err)
		}
	}
	for q, l := range c.QueueLanguages {
		if _, err := translate.ParseLang(l); err != nil {
			return fmt.Errorf("translate.queue_languages.%s: %w", q, err)
		}
	}
	if c.ProcsPerPair <= 0 || c.ProcsPerPair > 64 {
		return fmt.Errorf("translate.procs_per_pair must be within 1..64, got %d", c.ProcsPerPair)
	}
	if _, err := c.translator(); err != nil {
		return fmt.Errorf("translate: %w", err)
	}
	for i, e := range c.Engines {
		switch e {
		case "ollama":
		case "libretranslate":
			if _, err := c.libreTranslate(); err != nil {
				return fmt.Errorf("translate.%w", err)
			}
		default:
			return fmt.Errorf("translate.engines[%d]: unknown engine %q (ollama, libretranslate)", i, e)
		}
	}
	return nil
}

func (c TranslateConfig) libreTranslate() (translate.LibreTranslateConfig, error) {
	lc := translate.DefaultLibreTranslateConfig()
	lc.URL, lc.SiteHosted, lc.APIKeyFile = c.LibreTranslate.URL, c.LibreTranslate.SiteHosted, c.LibreTranslate.APIKeyFile
	if c.LibreTranslate.Timeout > 0 {
		lc.Timeout = translate.Duration(c.LibreTranslate.Timeout)
	}
	return lc, lc.Validate()
}

// chatTranslator translates chat messages as they arrive: a customer's
// into the agent's language (and the analysis language), an agent's into
// the customer's. The original stays the segment's Text; translations are
// sealed with it. It keeps each live chat's customer language in memory.
type chatTranslator struct {
	d        *Daemon
	cfg      TranslateConfig
	apertium *translate.Apertium
	closers  []io.Closer // the other engines' clients
	tr       *translate.Translator
	settler  translate.Settler
	log      *slog.Logger

	mu sync.Mutex
	// +checklocks:mu
	langs map[string]translate.LanguageState // engagement ID
}

// newChatTranslator starts the Apertium engine; without Apertium installed
// it returns nil and chats stay untranslated.
func newChatTranslator(d *Daemon, cfg TranslateConfig, logger *slog.Logger, reg prometheus.Registerer) (*chatTranslator, error) {
	tc, err := cfg.translator()
	if err != nil {
		return nil, err
	}
	acfg := translate.DefaultApertiumConfig()
	acfg.ProcsPerPair = cfg.ProcsPerPair
	ap, err := translate.NewApertium(acfg, logger, reg)
	if err != nil {
		logger.Warn("auto_translate unavailable", "err", err)
		return nil, nil
	}
	c := &chatTranslator{d: d, cfg: cfg, apertium: ap, settler: translate.DefaultSettler(), log: logger,
		langs: map[string]translate.LanguageState{}}
	var engines []translate.Engine
	for _, name := range cfg.Engines {
		switch name {
		case "ollama":
			if d.cfg.Ollama.Models[ollama.FeatureGenerate] == "" {
				c.Close()
				return nil, fmt.Errorf("translate.engines: ollama needs a model in ollama.models.generate")
			}
			// Its own provider, with no fallback (the Translator falls
			// back to Apertium) and unregistered metrics (the analytics'
			// provider registers the provider's).
			p, err := ollama.New(d.cfg.Ollama, logger, nil, ollama.Fallback{})
			if err != nil {
				c.Close()
				return nil, err
			}
			c.closers = append(c.closers, p)
			oc := translate.DefaultOllamaConfig()
			oc.Local = !d.cfg.Ollama.AllowRemote
			e, err := translate.NewOllama(oc, p.Generator(ollama.FeatureGenerate))
			if err != nil {
				c.Close()
				return nil, err
			}
			engines = append(engines, e)
		case "libretranslate":
			lc, _ := cfg.libreTranslate()
			e, err := translate.NewLibreTranslate(lc)
			if err != nil {
				c.Close()
				return nil, err
			}
			c.closers = append(c.closers, e)
			engines = append(engines, e)
		}
	}
	if c.tr, err = translate.New(tc, logger, reg, append(engines, ap)...); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *chatTranslator) Close() error {
	if c == nil {
		return nil
	}
	for _, cl := range c.closers {
		cl.Close()
	}
	return c.apertium.Close()
}

// agentLanguage is the language of the engagement's agent.
func (c *chatTranslator) agentLanguage(e store.Engagement) translate.Lang {
	if e.Agent != "" {
		if u, err := c.d.store.User(e.Agent); err == nil && u.Language != "" {
			if l, err := translate.ParseLang(u.Language); err == nil {
				return l
			}
		}
	}
	l, _ := translate.ParseLang(c.cfg.AgentLanguage)
	return l
}

// customerLanguage returns the chat's customer language state, observing
// text when it is the customer's.
func (c *chatTranslator) customerLanguage(e store.Engagement, customerText string) translate.LanguageState {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.langs) >= maxChatLanguages {
		// Drop the states of chats that ended.
		for id := range c.langs {
			if l, live := c.d.hub.Get(id); !live || l.Ended() {
				delete(c.langs, id)
			}
		}
	}
	s, ok := c.langs[e.ID]
	if !ok {
		if q, fixed := c.cfg.QueueLanguages[e.Queue]; fixed {
			l, _ := translate.ParseLang(q)
			s = translate.Fixed(l)
		}
	}
	if customerText != "" {
		s = c.settler.Observe(s, c.tr.Identifier().Detect(customerText))
	}
	c.langs[e.ID] = s
	return s
}

// setCustomerLanguage records the language the customer chose for a live
// chat (a queue that fixes its language keeps it) and returns the state.
func (c *chatTranslator) setCustomerLanguage(e store.Engagement, l translate.Lang) translate.LanguageState {
	s := c.customerLanguage(e, "")
	c.mu.Lock()
	defer c.mu.Unlock()
	s = c.settler.Set(s, l)
	c.langs[e.ID] = s
	return s
}

// EventLanguage tells both sides that a chat's customer language changed.
const EventLanguage = "chat.language"

// languageRequest is the body of PUT /engagements/{id}/language.
type languageRequest struct {
	Language string `json:"language"`
}

// setChatLanguage sets a live chat's customer language: later messages are
// translated to and from it, whatever detection says.
func (d *Daemon) setChatLanguage(w http.ResponseWriter, r *http.Request, p *Principal) {
	e, ok := d.lookupEngagement(w, r, p)
	if !ok {
		return
	}
	var req languageRequest
	if !d.decodeJSON(w, r, &req) {
		return
	}
	l, err := translate.ParseLang(req.Language)
	if err != nil {
		d.badRequest(w, r, 400, fmt.Sprintf("language %q is not one of %s", req.Language, knownLanguages()), "language")
		return
	}
	if e.Channel != "chat" {
		writeProblem(w, r, http.StatusConflict, "not-chat", "only a chat has a customer language to set")
		return
	}
	live, ok := d.hub.Get(e.ID)
	if !ok || live.Ended() {
		writeProblem(w, r, http.StatusConflict, "not-live", "the engagement has ended")
		return
	}
	if !d.translator.on(e) {
		writeProblem(w, r, http.StatusConflict, "feature-off", "auto_translate is off for this engagement, or no translation engine is installed")
		return
	}
	st := d.translator.setCustomerLanguage(e, l)
	out := map[string]any{"engagement": e.ID, "language": string(st.Lang), "source": st.Source}
	live.Publish(EventLanguage, out)
	d.audit(r, p, "engagement.language", e.ID)
	writeJSON(w, http.StatusOK, out)
}

// maxChatLanguages is the number of chat language states kept before
// those of ended chats are dropped.
const maxChatLanguages = 256

// on reports whether chat translation applies to engagement e: a chat
// with auto_translate on for its queue and agent.
func (c *chatTranslator) on(e store.Engagement) bool {
	return c != nil && e.Channel == "chat" && c.d.controls.Enabled(featureAutoTranslate, e.Queue, e.Agent)
}

// translateMessage fills seg's language and translations when the
// engagement is a chat with auto_translate on. A message that cannot be
// translated keeps a translation entry whose Text is the original and whose
// Notice says why, so that the agent is told.
func (c *chatTranslator) translateMessage(ctx context.Context, e store.Engagement, seg *store.Segment) {
	if !c.on(e) {
		return
	}
	agent := c.agentLanguage(e)
	analysis, _ := translate.ParseLang(c.cfg.AnalysisLanguage)
	localOnly := c.d.controls.LocalModelsOnly()
	var from translate.Lang
	var targets []translate.Lang
	switch seg.Speaker {
	case "customer":
		st := c.customerLanguage(e, seg.Text)
		from = st.Lang
		if st.Source != translate.SourceQueue {
			from = "" // each message from its own language(s)
		}
		targets = []translate.Lang{agent, analysis}
	default: // the agent, or a bot writing on the agent's side
		st := c.customerLanguage(e, "")
		from = agent
		targets = []translate.Lang{st.Lang, analysis}
	}
	seen := map[translate.Lang]bool{}
	for _, to := range targets {
		if to == "" || seen[to] {
			continue
		}
		seen[to] = true
		res, err := c.tr.Translate(ctx, translate.Request{Text: seg.Text, From: from, To: to, LocalOnly: localOnly})
		if err != nil {
			c.log.Warn("chat translation failed", "engagement", e.ID, "err", err)
			return
		}
		if seg.Lang == "" && res.From != "" {
			seg.Lang = string(res.From)
		}
		if res.Notice == translate.NoticeSameLanguage || to == res.From {
			continue
		}
		seg.Translations = append(seg.Translations, store.Translation{Lang: string(to), Text: res.Text,
			Engine: res.Engine, Pivot: string(res.Pivot), Notice: res.Notice})
	}
}

// translated returns a chat message with its language and translations
// when auto_translate is on for chat e. It is translated redacted: a
// translation engine (a model, a translation server) never sees a value
// the stored message hides.
func (d *Daemon) translated(ctx context.Context, e store.Engagement, seg store.Segment) store.Segment {
	// Off, the message is not redacted for nothing.
	if !d.translator.on(e) {
		return seg
	}
	tr := seg
	tr.Text, _ = d.redaction.message(&e, seg.Text)
	d.translator.translateMessage(ctx, e, &tr)
	seg.Lang, seg.Translations = tr.Lang, tr.Translations
	return seg
}

// customerView is the text of an agent's or a bot's chat message as the
// customer reads it: its translation into the customer's language, which
// translateMessage makes first, else the original.
func customerView(seg store.Segment) string {
	for _, t := range seg.Translations {
		if t.Notice == "" {
			return t.Text
		}
	}
	return seg.Text
}

// forAgent rewrites the written results of a translated chat (summary,
// notes, follow-up tasks) from the analysis language into the agent's,
// when they differ. A text the engines cannot translate stays as it was.
func (c *chatTranslator) forAgent(ctx context.Context, e store.Engagement, results map[Feature]any) {
	if !c.on(e) {
		return
	}
	analysis, _ := translate.ParseLang(c.cfg.AnalysisLanguage)
	agent := c.agentLanguage(e)
	if agent == "" || agent == analysis {
		return
	}
	localOnly := c.d.controls.LocalModelsOnly()
	tr := func(s *string) {
		if strings.TrimSpace(*s) == "" {
			return
		}
		res, err := c.tr.Translate(ctx, translate.Request{Text: *s, From: analysis, To: agent, LocalOnly: localOnly})
		if err != nil || res.Notice != "" {
			c.d.logger.Warn("result not translated for the agent", "engagement", e.ID, "to", string(agent), "notice", res.Notice, "err", err)
			return
		}
		*s = res.Text
	}
	for f, v := range results {
		switch r := v.(type) {
		case inference.Summary:
			tr(&r.Text) // keywords stay the analysis language's terms
			results[f] = r
		case inference.Notes:
			tr(&r.Reason)
			tr(&r.Actions)
			tr(&r.Outcome)
			r.FollowUps = slices.Clone(r.FollowUps)
			for i := range r.FollowUps {
				tr(&r.FollowUps[i])
			}
			results[f] = r
		case []inference.Task:
			r = slices.Clone(r)
			for i := range r {
				tr(&r[i].Text)
			}
			results[f] = r
		}
	}
}

// knownLanguages lists the language codes a user may prefer.
func knownLanguages() string {
	s := make([]string, len(translate.Known))
	for i, l := range translate.Known {
		s[i] = string(l)
	}
	return strings.Join(s, ", ")
}
