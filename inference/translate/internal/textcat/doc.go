// Package textcat classifies text with libexttextcat (Debian
// libexttextcat-dev, libexttextcat-data), the Cavnar-Trenkle n-gram
// classifier LibreOffice uses. It is the peer the built-in language
// identifier is measured against, and is built only with the eval tag.
package textcat
