package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// policy is the authorisation matrix, written independently of the route
// table: for every route, the roles that may call it. "public" routes need
// no token. A route missing here fails TestAuthorizationWalker.
var policy = map[string][]Role{
	"GET /healthz":             nil,
	"GET /readyz":              nil,
	"GET /metrics":             nil,
	"GET /api/v1/openapi.json": nil,
	"GET /api/v1/version":      nil,
	"GET /api/v1/whoami":       AllRoles,

	"GET /api/v1/queues":         {RoleAdmin, RoleSupervisor, RoleAgent, RoleAnalyst},
	"POST /api/v1/queues":        {RoleAdmin},
	"GET /api/v1/queues/{id}":    {RoleAdmin, RoleSupervisor, RoleAgent, RoleAnalyst},
	"PUT /api/v1/queues/{id}":    {RoleAdmin},
	"PATCH /api/v1/queues/{id}":  {RoleAdmin},
	"DELETE /api/v1/queues/{id}": {RoleAdmin},
	"GET /api/v1/users":          {RoleAdmin},
	"POST /api/v1/users":         {RoleAdmin},
	"GET /api/v1/users/{id}":     {RoleAdmin, RoleSupervisor, RoleAgent, RoleAnalyst, RoleAuditor},
	"PUT /api/v1/users/{id}":     {RoleAdmin},
	"PATCH /api/v1/users/{id}":   {RoleAdmin},
	"DELETE /api/v1/users/{id}":  {RoleAdmin},
	"GET /api/v1/tokens":         {RoleAdmin},
	"POST /api/v1/tokens":        {RoleAdmin},
	"DELETE /api/v1/tokens/{id}": {RoleAdmin},

	"GET /api/v1/features":                                      {RoleAdmin, RoleSupervisor, RoleAgent, RoleAnalyst},
	"GET /api/v1/features/effective":                            {RoleAdmin, RoleSupervisor, RoleAgent, RoleAnalyst},
	"GET /api/v1/settings/features":                             {RoleAdmin},
	"PUT /api/v1/settings/features/account/{feature}":           {RoleAdmin},
	"PUT /api/v1/settings/features/queues/{queue}/{feature}":    {RoleAdmin},
	"PUT /api/v1/settings/features/users/{user}/{feature}":      {RoleAdmin},
	"DELETE /api/v1/settings/features/account/{feature}":        {RoleAdmin},
	"DELETE /api/v1/settings/features/queues/{queue}/{feature}": {RoleAdmin},
	"DELETE /api/v1/settings/features/users/{user}/{feature}":   {RoleAdmin},
	"PUT /api/v1/settings/local-models-only":                    {RoleAdmin},

	"POST /api/v1/engagements":                  {RoleAdmin, RoleIngest},
	"GET /api/v1/engagements":                   {RoleAdmin, RoleSupervisor, RoleAgent, RoleAnalyst},
	"GET /api/v1/engagements/{id}":              {RoleAdmin, RoleSupervisor, RoleAgent, RoleAnalyst},
	"POST /api/v1/engagements/{id}/end":         {RoleAdmin, RoleIngest},
	"GET /api/v1/engagements/{id}/events":       {RoleAdmin, RoleSupervisor, RoleAgent},
	"GET /api/v1/engagements/{id}/transcript":   {RoleAdmin, RoleSupervisor, RoleAgent, RoleAnalyst},
	"POST /api/v1/engagements/{id}/messages":    {RoleAdmin, RoleIngest, RoleAgent},
	"GET /api/v1/engagements/{id}/unredacted":   {RoleCompliance},
	"PUT /api/v1/engagements/{id}/payment-step": {RoleAdmin, RoleSupervisor, RoleAgent, RoleIngest},
	"PUT /api/v1/engagements/{id}/hold":         {RoleAdmin, RoleSupervisor, RoleAgent, RoleIngest},

	"GET /api/v1/settings/redaction":                   {RoleAdmin},
	"PUT /api/v1/settings/redaction/account":           {RoleAdmin},
	"DELETE /api/v1/settings/redaction/account":        {RoleAdmin},
	"GET /api/v1/settings/redaction/queues/{queue}":    {RoleAdmin},
	"PUT /api/v1/settings/redaction/queues/{queue}":    {RoleAdmin},
	"DELETE /api/v1/settings/redaction/queues/{queue}": {RoleAdmin},
	"PUT /api/v1/engagements/{id}/language":            {RoleAdmin, RoleIngest, RoleAgent},

	"GET /api/v1/audit":                       {RoleAuditor, RoleAdmin},
	"GET /api/v1/audit/export":                {RoleAuditor, RoleAdmin},
	"GET /api/v1/audit/verify":                {RoleAuditor, RoleAdmin},
	"GET /api/v1/backup/content":              {RoleAdmin},
	"GET /api/v1/backup/keys":                 {RoleAdmin},
	"POST /api/v1/purge":                      {RoleAdmin},
	"PUT /api/v1/engagements/{id}/legal-hold": {RoleAdmin},
	"POST /api/v1/retention/sweep":            {RoleAdmin},
	"POST /api/v1/keys/rotate":                {RoleAdmin},
	"GET /api/v1/sinks/outbox":                {RoleAdmin},
	"POST /api/v1/sinks/retry":                {RoleAdmin},
	"GET /api/v1/doctor":                      {RoleAdmin},

	"POST /api/v1/ingest/whip":        {RoleAdmin, RoleIngest},
	"PATCH /api/v1/ingest/whip/{id}":  {RoleAdmin, RoleIngest},
	"DELETE /api/v1/ingest/whip/{id}": {RoleAdmin, RoleIngest},
	"GET /api/v1/ingest/stream":       {RoleAdmin, RoleIngest},
	"POST /api/v1/uploads":            {RoleAdmin, RoleIngest},

	"GET /api/v1/engagements/{id}/results":     {RoleAdmin, RoleSupervisor, RoleAgent, RoleAnalyst},
	"PUT /api/v1/engagements/{id}/notes":       {RoleAdmin, RoleSupervisor, RoleAgent},
	"PUT /api/v1/engagements/{id}/disposition": {RoleAdmin, RoleSupervisor, RoleAgent},
	"GET /api/v1/preview":                      {RoleAdmin, RoleSupervisor, RoleAgent},
	"GET /api/v1/escalations":                  {RoleAdmin, RoleSupervisor},

	"GET /api/v1/scorecards":                    {RoleAdmin, RoleSupervisor, RoleAnalyst, RoleAgent},
	"POST /api/v1/scorecards":                   {RoleAdmin},
	"GET /api/v1/scorecards/{id}":               {RoleAdmin, RoleSupervisor, RoleAnalyst, RoleAgent},
	"PUT /api/v1/scorecards/{id}":               {RoleAdmin},
	"DELETE /api/v1/scorecards/{id}":            {RoleAdmin},
	"POST /api/v1/engagements/{id}/evaluations": {RoleAdmin, RoleSupervisor, RoleAnalyst},
	"GET /api/v1/engagements/{id}/analytics":    {RoleAdmin, RoleSupervisor, RoleAgent, RoleAnalyst},
	"GET /api/v1/evaluations":                   {RoleAdmin, RoleSupervisor, RoleAnalyst, RoleAgent},
	"GET /api/v1/evaluations/{id}":              {RoleAdmin, RoleSupervisor, RoleAnalyst, RoleAgent},
	"POST /api/v1/evaluations/{id}/review":      {RoleAdmin, RoleSupervisor, RoleAnalyst},
	"POST /api/v1/evaluations/{id}/calibration": {RoleAdmin, RoleSupervisor, RoleAnalyst},
	"POST /api/v1/evaluations/{id}/acknowledge": {RoleAgent},
	"POST /api/v1/evaluations/{id}/dispute":     {RoleAgent},
	"GET /api/v1/reports/engagements":           {RoleAdmin, RoleSupervisor, RoleAnalyst},
	"GET /api/v1/reports/scores":                {RoleAdmin, RoleSupervisor, RoleAnalyst, RoleAgent},
	"GET /api/v1/reports/calibration":           {RoleAdmin, RoleSupervisor, RoleAnalyst},
	"GET /api/v1/topics":                        {RoleAdmin, RoleSupervisor, RoleAnalyst},
	"POST /api/v1/topics/discover":              {RoleAdmin, RoleSupervisor, RoleAnalyst},
	"GET /api/v1/topics/{model}/{topic}":        {RoleAdmin, RoleSupervisor, RoleAnalyst},
	"GET /api/v1/settings/qm":                   {RoleAdmin},
	"PUT /api/v1/settings/qm":                   {RoleAdmin},
	"GET /api/v1/settings/next-best-actions":    {RoleAdmin},
	"PUT /api/v1/settings/next-best-actions":    {RoleAdmin},
	"GET /api/v1/settings/dispositions":         {RoleAdmin},
	"PUT /api/v1/settings/dispositions":         {RoleAdmin},
	"GET /api/v1/settings/intents":              {RoleAdmin},
	"PUT /api/v1/settings/intents":              {RoleAdmin},
	"POST /api/v1/training/dispositions":        {RoleAdmin},
	"GET /api/v1/training/{job}":                {RoleAdmin},

	"GET /api/v1/plugins":                   {RoleAdmin},
	"POST /api/v1/plugins":                  {RoleAdmin},
	"PUT /api/v1/plugins/{name}/settings":   {RoleAdmin},
	"PATCH /api/v1/plugins/{name}/settings": {RoleAdmin},
	"POST /api/v1/plugins/{name}/restart":   {RoleAdmin},
	"DELETE /api/v1/plugins/{name}":         {RoleAdmin},

	"GET /api/v1/kb/articles":               {RoleAdmin, RoleSupervisor, RoleAgent, RoleAnalyst},
	"GET /api/v1/kb/articles/{id}":          {RoleAdmin, RoleSupervisor, RoleAgent, RoleAnalyst},
	"PUT /api/v1/kb/articles/{id}":          {RoleAdmin},
	"DELETE /api/v1/kb/articles/{id}":       {RoleAdmin},
	"POST /api/v1/kb/import":                {RoleAdmin},
	"GET /api/v1/kb/search":                 {RoleAdmin, RoleSupervisor, RoleAgent, RoleAnalyst},
	"POST /api/v1/kb/answer":                {RoleAdmin, RoleSupervisor, RoleAgent, RoleAnalyst},
	"GET /api/v1/skills":                    {RoleAdmin, RoleSupervisor, RoleAgent},
	"POST /api/v1/engagements/{id}/actions": {RoleAdmin, RoleSupervisor, RoleAgent},
	"POST /api/v1/plugins/{name}/sync":      {RoleAdmin},
	"POST /api/v1/ask":                      {RoleAdmin, RoleSupervisor, RoleAnalyst},

	"POST /api/v1/queues/{queue}/forecast":          {RoleAdmin, RoleSupervisor, RoleAnalyst},
	"POST /api/v1/queues/{queue}/forecast/staffing": {RoleAdmin, RoleSupervisor, RoleAnalyst},
	"POST /api/v1/queues/{queue}/forecast/backtest": {RoleAdmin, RoleSupervisor, RoleAnalyst},
	"POST /api/v1/queues/{queue}/forecast/longterm": {RoleAdmin, RoleSupervisor, RoleAnalyst},
	"POST /api/v1/forecast/erlang":                  {RoleAdmin, RoleSupervisor, RoleAnalyst},
	"GET /api/v1/queues/{queue}/forecasts":          {RoleAdmin, RoleSupervisor, RoleAnalyst},
	"GET /api/v1/queues/{queue}/forecasts/latest":   {RoleAdmin, RoleSupervisor, RoleAnalyst},

	"GET /api/v1/wfm/rosters":                 {RoleAdmin, RoleSupervisor, RoleAnalyst},
	"GET /api/v1/wfm/rosters/{id}":            {RoleAdmin, RoleSupervisor, RoleAnalyst},
	"PUT /api/v1/wfm/rosters/{id}":            {RoleAdmin, RoleSupervisor, RoleAnalyst},
	"DELETE /api/v1/wfm/rosters/{id}":         {RoleAdmin, RoleSupervisor, RoleAnalyst},
	"GET /api/v1/wfm/rules/{id}":              {RoleAdmin, RoleSupervisor, RoleAnalyst},
	"PUT /api/v1/wfm/rules/{id}":              {RoleAdmin, RoleSupervisor, RoleAnalyst},
	"GET /api/v1/wfm/schedules":               {RoleAdmin, RoleSupervisor, RoleAnalyst},
	"POST /api/v1/wfm/schedules":              {RoleAdmin, RoleSupervisor, RoleAnalyst},
	"GET /api/v1/wfm/schedules/{id}":          {RoleAdmin, RoleSupervisor, RoleAnalyst},
	"DELETE /api/v1/wfm/schedules/{id}":       {RoleAdmin, RoleSupervisor, RoleAnalyst},
	"GET /api/v1/wfm/schedules/{id}/intraday": {RoleAdmin, RoleSupervisor, RoleAnalyst},
	"POST /api/v1/wfm/schedules/{id}/what-if": {RoleAdmin, RoleSupervisor, RoleAnalyst},
}

// The workforce routes' documents: a roster of queue q1 and a week's
// schedule from the stored forecast of forecastHistory (which ends on
// Friday 22 May 2026).
var (
	wfmMatrixRoster   = map[string]any{"agents": []map[string]any{{"id": "a1", "skills": []string{"q1"}, "hours_per_week": 20, "shifts": []string{"part4"}}}}
	wfmMatrixSchedule = map[string]any{"id": "s1", "roster": "r1", "start": "2026-05-25", "days": 7, "time_budget": "1s"}
)

// matrixBodies gives routes that need one a valid body, so that an allowed
// call is not refused for its input.
var matrixBodies = map[string]any{
	"POST /api/v1/queues":                                    queueRequest{ID: "newq"},
	"PUT /api/v1/queues/{id}":                                queueRequest{Name: "Renamed"},
	"PATCH /api/v1/queues/{id}":                              map[string]any{"name": "Renamed"},
	"POST /api/v1/users":                                     userRequest{ID: "newu", Role: "agent"},
	"PUT /api/v1/users/{id}":                                 userRequest{Role: "admin"},
	"PATCH /api/v1/users/{id}":                               map[string]any{"display_name": "Renamed"},
	"POST /api/v1/tokens":                                    tokenRequest{UserID: "u-agent"},
	"PUT /api/v1/settings/features/account/{feature}":        map[string]any{"enabled": true},
	"PUT /api/v1/settings/features/queues/{queue}/{feature}": map[string]any{"enabled": true},
	"PUT /api/v1/settings/features/users/{user}/{feature}":   map[string]any{"enabled": true},
	"PUT /api/v1/settings/local-models-only":                 map[string]any{"enabled": true},
	"PUT /api/v1/settings/redaction/account":                 map[string]any{"replacement": "generic"},
	"PUT /api/v1/settings/redaction/queues/{queue}":          map[string]any{"types": []string{"card", "email"}, "replacement": "type"},
	"PUT /api/v1/engagements/{id}/payment-step":              map[string]any{"active": true},
	"POST /api/v1/engagements":                               engagementRequest{Queue: "q1", Agent: "u-agent", Channel: "chat"},
	"POST /api/v1/engagements/{id}/messages":                 messageRequest{Sender: "agent", Text: "hello"},
	"PUT /api/v1/engagements/{id}/language":                  languageRequest{Language: "es"},
	"POST /api/v1/purge":                                     purgeRequest{CustomerRef: "nobody", Reason: "authorisation test"},
	"PUT /api/v1/engagements/{id}/legal-hold":                map[string]any{"hold": true, "reason": "authorisation test"},
	"POST /api/v1/keys/rotate":                               map[string]any{},
	"PUT /api/v1/kb/articles/{id}":                           map[string]any{"title": "Blocking a card", "body": "Press block on the card screen."},
	"POST /api/v1/kb/answer":                                 map[string]any{"question": "how do I block a card"},
	"POST /api/v1/ask":                                       map[string]any{"question": "what did the customer want", "queue": "q1"},
	"POST /api/v1/uploads":                                   map[string]any{"segments": []map[string]any{{"party": "customer", "text": "hello", "start_ms": 0, "end_ms": 500}}},
	"PUT /api/v1/engagements/{id}/notes":                     map[string]any{"reason": "card charged twice"},
	"PUT /api/v1/engagements/{id}/disposition":               map[string]any{"code": "resolved"},
	"PUT /api/v1/settings/next-best-actions":                 []map[string]any{{"intent": "card_lost", "action": "Block the card"}},
	"PUT /api/v1/settings/dispositions":                      []map[string]any{{"code": "resolved", "name": "Resolved"}, {"code": "callback", "name": "Callback"}},
	"PUT /api/v1/settings/intents":                           []map[string]any{{"intent": "a", "phrases": []string{"lost my card"}}, {"intent": "b", "phrases": []string{"change my address"}}},
	"POST /api/v1/queues/{queue}/forecast":                   forecastHistoryBody,
	"POST /api/v1/queues/{queue}/forecast/staffing":          forecastHistoryBody,
	"POST /api/v1/queues/{queue}/forecast/backtest":          forecastHistoryBody,
	"POST /api/v1/queues/{queue}/forecast/longterm":          forecastHistoryBody,
	"POST /api/v1/forecast/erlang":                           erlangRequest{Contacts: 100, AHTSeconds: 180, ServiceLevel: 0.8, AnswerWithinSec: 20},
	"PUT /api/v1/wfm/rosters/{id}":                           wfmMatrixRoster,
	"PUT /api/v1/wfm/rules/{id}":                             map[string]any{"min_rest": "12h"},
	"POST /api/v1/wfm/schedules":                             wfmMatrixSchedule,
	"POST /api/v1/wfm/schedules/{id}/what-if":                map[string]any{"volume_factor": 1.1},
	"POST /api/v1/scorecards":                                testScorecardBody("matrix"),
	"PUT /api/v1/settings/qm":                                map[string]any{"topic_interval": "12h"},
}

// mediaInputRoutes need inputs a table row cannot give (an SDP offer from
// a WebRTC stack, a WebSocket upgrade, a plugin binary): for them an allowed call only has
// to pass authorisation; media_test.go and media/whip test them working.
var mediaInputRoutes = map[string]bool{
	"POST /api/v1/ingest/whip": true, "PATCH /api/v1/ingest/whip/{id}": true,
	"DELETE /api/v1/ingest/whip/{id}": true, "GET /api/v1/ingest/stream": true,
	// Plugin routes need an installed plugin binary: plugins_test.go.
	"POST /api/v1/plugins": true, "PUT /api/v1/plugins/{name}/settings": true, "PATCH /api/v1/plugins/{name}/settings": true,
	"POST /api/v1/plugins/{name}/restart": true, "DELETE /api/v1/plugins/{name}": true,
	"POST /api/v1/plugins/{name}/sync": true, "POST /api/v1/engagements/{id}/actions": true,
	// An archive upload: kb_test.go.
	"POST /api/v1/kb/import": true,
	// Needs a stored forecast (404 before one): api_forecast_test.go.
	"GET /api/v1/queues/{queue}/forecasts/latest": true,
	// A document is deleted once (the next allowed caller gets 404):
	// api_wfm_test.go deletes them.
	"DELETE /api/v1/wfm/rosters/{id}": true, "DELETE /api/v1/wfm/schedules/{id}": true,
	// Need a stored scorecard, an ended and analysed engagement, an
	// evaluation or a topic model: api_qm_test.go.
	"GET /api/v1/scorecards/{id}": true, "PUT /api/v1/scorecards/{id}": true, "DELETE /api/v1/scorecards/{id}": true,
	"POST /api/v1/engagements/{id}/evaluations": true, "GET /api/v1/engagements/{id}/analytics": true,
	"GET /api/v1/evaluations/{id}": true, "POST /api/v1/evaluations/{id}/review": true,
	"POST /api/v1/evaluations/{id}/calibration": true, "POST /api/v1/evaluations/{id}/acknowledge": true,
	"POST /api/v1/evaluations/{id}/dispute": true, "GET /api/v1/reports/calibration": true,
	"POST /api/v1/topics/discover": true, "GET /api/v1/topics/{model}/{topic}": true,
	// Needs an engagement redacted with an unredacted copy (404 before
	// one): redaction_test.go.
	"GET /api/v1/engagements/{id}/unredacted": true,
	// Needs a live call (the matrix's engagements are chats):
	// api_qm_test.go TestHoldThroughAPI.
	"PUT /api/v1/engagements/{id}/hold": true,
}

// TestAuthorizationMatrix calls every route with every role, with no
// token, a revoked token and malformed headers, and checks allowed against
// denied. Each route gets a fresh daemon so that one call's effect (a
// deleted user, a revoked token) cannot change another's outcome.
func TestAuthorizationMatrix(t *testing.T) {
	probe := startDaemon(t, nil)
	routes := probe.routes()
	for _, rt := range routes {
		key := rt.Method + " " + rt.Pattern
		if _, ok := policy[key]; !ok {
			t.Errorf("route %s is not in the authorisation matrix", key)
		}
	}
	for key := range policy {
		if !slices.ContainsFunc(routes, func(rt route) bool { return rt.Method+" "+rt.Pattern == key }) {
			t.Errorf("matrix row %s names no route", key)
		}
	}
	for _, rt := range routes {
		key := rt.Method + " " + rt.Pattern
		allowed, ok := policy[key]
		if !ok {
			continue
		}
		t.Run(strings.ReplaceAll(key, "/", "_"), func(t *testing.T) {
			td := startDaemon(t, nil)
			td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "q1"}, 201)
			// Expert-assist routes answer licensed callers (the others are
			// told why with a 403): the bootstrap administrator gets one.
			admin, err := td.store.User("admin")
			if err != nil {
				t.Fatal(err)
			}
			admin.Licensed = true
			if err := td.store.UpdateUser(context.Background(), admin); err != nil {
				t.Fatal(err)
			}
			tokens := map[Role]string{RoleAdmin: td.Admin}
			ids := map[Role]string{RoleAdmin: "admin"}
			for _, r := range AllRoles[1:] {
				ids[r] = "u-" + string(r)
				tokens[r] = td.tokenFor(t, ids[r], r, "q1")
			}
			revoked := td.tokenFor(t, "u-revoked", RoleAdmin)
			var tv []tokenView
			json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/tokens", nil, 200), &tv)
			for _, x := range tv {
				if x.UserID == "u-revoked" {
					td.mustCall(t, td.Admin, "DELETE", "/api/v1/tokens/"+x.ID, nil, 204)
				}
			}
			// Settings for the routes that clear one.
			for _, lvl := range []string{"account", "queues/q1", "users/u-agent"} {
				td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/"+lvl+"/sentiment", map[string]any{"enabled": true}, 200)
			}
			if key == "PUT /api/v1/engagements/{id}/language" {
				needApertium(t, td)
				td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/account/auto_translate", map[string]any{"enabled": true}, 200)
			}
			// A spare token for routes that revoke one.
			var spare tokenView
			json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/tokens", tokenRequest{UserID: "u-agent"}, 201), &spare)

			newEngagement := func() string {
				var e struct{ ID string }
				json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/engagements",
					engagementRequest{Queue: "q1", Agent: "u-agent", Channel: "chat"}, 201), &e)
				return e.ID
			}
			td.mustCall(t, td.Admin, "PUT", "/api/v1/kb/articles/kb-1", map[string]any{"title": "Card", "body": "Block the card."}, 200)
			engagement := newEngagement()
			ended := newEngagement()
			td.mustCall(t, td.Admin, "POST", "/api/v1/engagements/"+ended+"/end", nil, 202)
			if l, ok := td.hub.Get(ended); ok {
				<-l.Done()
			}
			if strings.HasPrefix(rt.Pattern, "/api/v1/wfm/") {
				td.mustCall(t, td.Admin, "POST", "/api/v1/queues/q1/forecast", forecastHistoryBody, 200)
				td.mustCall(t, td.Admin, "PUT", "/api/v1/wfm/rosters/r1", wfmMatrixRoster, 200)
				td.mustCall(t, td.Admin, "PUT", "/api/v1/wfm/rules/default", map[string]any{}, 200)
				td.mustCall(t, td.Admin, "POST", "/api/v1/wfm/schedules", wfmMatrixSchedule, 201)
			}
			td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/dispositions", matrixBodies["PUT /api/v1/settings/dispositions"], 200)
			var job struct{ Job uint64 }
			json.Unmarshal(td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/intents", matrixBodies["PUT /api/v1/settings/intents"], 202), &job)
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if st, _ := td.analytics.trainer.Status(job.Job); st.State != "running" {
					break
				}
			}
			bm := botMatrixSetup(t, td, key)
			path := func(self string) string {
				p := rt.Pattern
				if bp, ok := bm.path(t, p); ok {
					return bp
				}
				p = strings.ReplaceAll(p, "{feature}", "sentiment")
				p = strings.ReplaceAll(p, "{queue}", "q1")
				p = strings.ReplaceAll(p, "{user}", "u-agent")
				switch {
				case strings.HasPrefix(p, "/api/v1/queues/"):
					p = strings.ReplaceAll(p, "{id}", "q1")
				case strings.HasPrefix(p, "/api/v1/users/"):
					p = strings.ReplaceAll(p, "{id}", self)
				case strings.HasPrefix(p, "/api/v1/tokens/"):
					p = strings.ReplaceAll(p, "{id}", spare.ID)
				case strings.HasSuffix(p, "/end"):
					// Ending is allowed once: every caller ends its own.
					p = strings.ReplaceAll(p, "{id}", newEngagement())
				case strings.HasSuffix(p, "/notes") || strings.HasSuffix(p, "/disposition"):
					p = strings.ReplaceAll(p, "{id}", ended)
				case strings.HasPrefix(p, "/api/v1/engagements/"):
					p = strings.ReplaceAll(p, "{id}", engagement)
				case strings.HasPrefix(p, "/api/v1/kb/articles/"):
					p = strings.ReplaceAll(p, "{id}", "kb-1")
				case p == "/api/v1/kb/search":
					p += "?q=card"
				case p == "/api/v1/preview":
					p += "?customer_ref=C-1&queue=q1"
				case p == "/api/v1/training/{job}":
					p = fmt.Sprintf("/api/v1/training/%d", job.Job)
				case p == "/api/v1/uploads":
					p += "?queue=q1"
				case strings.HasPrefix(p, "/api/v1/wfm/rosters/"):
					p = strings.ReplaceAll(p, "{id}", "r1")
				case strings.HasPrefix(p, "/api/v1/wfm/rules/"):
					p = strings.ReplaceAll(p, "{id}", "default")
				case strings.HasPrefix(p, "/api/v1/wfm/schedules/"):
					p = strings.ReplaceAll(p, "{id}", "s1")
					if strings.HasSuffix(p, "/intraday") {
						p += "?now=2026-05-26T12:00:00Z"
					}
				}
				return p
			}
			body := matrixBodies[key]
			if allowed != nil {
				for _, bad := range []struct{ name, header string }{
					{"no token", ""}, {"revoked", "Bearer " + revoked}, {"malformed", "Token " + td.Admin},
					{"not ours", "Bearer es_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, {"empty bearer", "Bearer "},
				} {
					code := rawCall(t, td, bad.header, rt.Method, path("admin"), body)
					if code != 401 {
						t.Errorf("%s with %s = %d, want 401", key, bad.name, code)
					}
				}
			}
			// Denied roles first, then allowed ones with admin last, so that a
			// destructive call cannot hide a later denial.
			order := append([]Role(nil), AllRoles[1:]...)
			order = append(order, RoleAdmin)
			for _, r := range order {
				self := ids[r]
				if key == "DELETE /api/v1/users/{id}" {
					self = "u-analyst" // an admin may not delete themselves
				}
				code := rawCall(t, td, "Bearer "+tokens[r], rt.Method, path(self), body)
				want := allowed == nil || slices.Contains(allowed, r)
				if got := code != 401 && code != 403; got != want && !publicRefusals[key] {
					t.Errorf("%s as %s = %d; allowed %v, want allowed %v", key, r, code, got, want)
				}
				if want && code >= 400 && !mediaInputRoutes[key] {
					t.Errorf("%s as %s = %d: an allowed call should succeed with the matrix's inputs", key, r, code)
				}
			}
		})
	}
}

func rawCall(t *testing.T, td *testDaemon, header, method, path string, body any) int {
	t.Helper()
	var raw string
	if body != nil {
		b, _ := json.Marshal(body)
		raw = string(b)
	}
	req := mustRequest(t, method, td.URL+path, raw)
	if header != "" {
		req.Header.Set("Authorization", header)
	}
	resp, err := td.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (td *testDaemon) httpClient() *http.Client { return http.DefaultClient }
