// Package examples holds example Earshot plugins, each a main package in
// its own folder that imports only the plugin SDK module
// (github.com/earshot/earshot/plugins/sdk):
//
//   - crm-csv: kind info, customer cards from a CSV file;
//   - kb-dir: kind knowledge, a folder of Markdown files;
//   - webhook: kind sink, POSTs events signed per the Standard Webhooks spec.
//
// The host's tests build and run them as real plugin processes.
package examples
