package kb

import (
	"regexp"
	"strings"
)

// markdownDoc is what a Markdown file gives: front-matter fields, the title
// (front matter, else the first heading) and the text with markup removed.
type markdownDoc struct {
	id, title, queue string
	tags             []string
	body             string
}

var (
	mdImage  = regexp.MustCompile(`!\[([^\]]*)\]\([^)]*\)`)
	mdLink   = regexp.MustCompile(`\[([^\]]+)\]\([^)]*\)`)
	mdRefDef = regexp.MustCompile(`^\s*\[[^\]]+\]:\s*\S+.*$`)
	mdEmph   = regexp.MustCompile("(\\*\\*|__|\\*|_|~~|`)")
	mdHTML   = regexp.MustCompile(`</?[a-zA-Z][^>]*>`)
	mdList   = regexp.MustCompile(`^\s*([-*+]|\d+[.)])\s+`)
)

// parseMarkdown reads optional front matter ("---" lines around "key:
// value" pairs: id, title, tags, queue) and strips Markdown markup. Code
// blocks keep their text.
func parseMarkdown(text string) markdownDoc {
	var d markdownDoc
	text = strings.ReplaceAll(text, "\r\n", "\n")
	if rest, ok := strings.CutPrefix(text, "---\n"); ok {
		if fm, body, ok := strings.Cut(rest, "\n---"); ok {
			text = strings.TrimPrefix(body, "\n")
			for _, line := range strings.Split(fm, "\n") {
				k, v, ok := strings.Cut(line, ":")
				if !ok {
					continue
				}
				v = strings.Trim(strings.TrimSpace(v), `"'`)
				switch strings.ToLower(strings.TrimSpace(k)) {
				case "id":
					d.id = v
				case "title":
					d.title = v
				case "queue":
					d.queue = v
				case "tags":
					for _, t := range strings.Split(strings.Trim(v, "[]"), ",") {
						if t = strings.Trim(strings.TrimSpace(t), `"'`); t != "" {
							d.tags = append(d.tags, t)
						}
					}
				}
			}
		}
	}
	var out []string
	inCode := false
	for _, line := range strings.Split(text, "\n") {
		trim := strings.TrimSpace(line)
		if strings.HasPrefix(trim, "```") || strings.HasPrefix(trim, "~~~") {
			inCode = !inCode
			out = append(out, "")
			continue
		}
		if inCode {
			out = append(out, line)
			continue
		}
		if mdRefDef.MatchString(line) {
			continue
		}
		if strings.HasPrefix(trim, "#") {
			h := strings.TrimSpace(strings.TrimRight(strings.TrimLeft(trim, "#"), "#"))
			if d.title == "" && h != "" {
				d.title = h
				continue
			}
			out = append(out, "", h, "")
			continue
		}
		if isRule(trim) {
			out = append(out, "")
			continue
		}
		trim = strings.TrimLeft(trim, "> ")
		trim = mdList.ReplaceAllString(trim, "")
		trim = mdImage.ReplaceAllString(trim, "$1")
		trim = mdLink.ReplaceAllString(trim, "$1")
		trim = mdHTML.ReplaceAllString(trim, "")
		trim = mdEmph.ReplaceAllString(trim, "")
		if strings.HasPrefix(trim, "|") {
			trim = strings.TrimSpace(strings.ReplaceAll(trim, "|", " "))
			if strings.Trim(trim, "-: ") == "" {
				continue
			}
		}
		out = append(out, trim)
	}
	var paras []string
	for _, p := range strings.Split(strings.Join(out, "\n"), "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			paras = append(paras, p)
		}
	}
	d.body = strings.Join(paras, "\n\n")
	return d
}

func isRule(s string) bool {
	if len(s) < 3 {
		return false
	}
	for _, c := range []string{"-", "*", "_", "="} {
		if strings.Trim(strings.ReplaceAll(s, " ", ""), c) == "" {
			return true
		}
	}
	return false
}
