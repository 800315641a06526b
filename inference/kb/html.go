package kb

import (
	"bytes"
	"fmt"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// skipHTML are elements whose content is never text of the article.
var skipHTML = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Noscript: true, atom.Template: true,
	atom.Svg: true, atom.Iframe: true, atom.Object: true, atom.Head: true,
	atom.Nav: true, atom.Form: true, atom.Button: true, atom.Select: true,
}

// blockHTML are elements that end a paragraph.
var blockHTML = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.Section: true, atom.Article: true, atom.Main: true,
	atom.Header: true, atom.Footer: true, atom.Aside: true, atom.Blockquote: true,
	atom.Pre: true, atom.Ul: true, atom.Ol: true, atom.Li: true, atom.Dl: true, atom.Dt: true,
	atom.Dd: true, atom.Table: true, atom.Tr: true, atom.H1: true, atom.H2: true, atom.H3: true,
	atom.H4: true, atom.H5: true, atom.H6: true, atom.Br: true, atom.Hr: true, atom.Figure: true,
}

// htmlDoc is the text extracted from an HTML page.
type htmlDoc struct {
	title string
	body  string
	tags  []string
}

// extractHTML returns an HTML page's title and text: scripts, styles and
// other non-content elements are dropped, block elements become paragraph
// breaks. The parser is the HTML5 one, which recovers from broken markup as
// browsers do; a page with no text at all is an error.
func extractHTML(data []byte) (htmlDoc, error) {
	root, err := html.Parse(bytes.NewReader(data))
	if err != nil {
		return htmlDoc{}, fmt.Errorf("parse html: %w", err)
	}
	var d htmlDoc
	var h1 string
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.DataAtom {
			case atom.Title:
				if d.title == "" {
					d.title = collapseSpace(nodeText(n))
				}
				return
			case atom.Meta:
				var name, content string
				for _, a := range n.Attr {
					switch strings.ToLower(a.Key) {
					case "name":
						name = strings.ToLower(a.Val)
					case "content":
						content = a.Val
					}
				}
				if name == "keywords" {
					for _, k := range strings.Split(content, ",") {
						if k = strings.TrimSpace(k); k != "" {
							d.tags = append(d.tags, k)
						}
					}
				}
				return
			case atom.H1:
				if h1 == "" {
					h1 = collapseSpace(nodeText(n))
				}
			}
			if skipHTML[n.DataAtom] {
				// <head> holds <title> and <meta>: look inside it only for those.
				if n.DataAtom == atom.Head {
					for c := n.FirstChild; c != nil; c = c.NextSibling {
						if c.Type == html.ElementNode && (c.DataAtom == atom.Title || c.DataAtom == atom.Meta) {
							walk(c)
						}
					}
				}
				return
			}
			if blockHTML[n.DataAtom] {
				b.WriteString("\n\n")
			}
		}
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
		if n.Type == html.ElementNode && blockHTML[n.DataAtom] {
			b.WriteString("\n\n")
		}
	}
	walk(root)
	if d.title == "" {
		d.title = h1
	}
	var paras []string
	for _, p := range strings.Split(b.String(), "\n\n") {
		if p = collapseSpace(p); p != "" {
			paras = append(paras, p)
		}
	}
	d.body = strings.Join(paras, "\n\n")
	if d.body == "" && d.title == "" {
		return htmlDoc{}, fmt.Errorf("html has no text")
	}
	return d, nil
}

func nodeText(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		if n.Type == html.ElementNode && (n.DataAtom == atom.Script || n.DataAtom == atom.Style) {
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

func collapseSpace(s string) string { return strings.Join(strings.Fields(s), " ") }
