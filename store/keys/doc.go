// Package keys is Earshot's key management: the site's key-encryption keys
// (KEKs) behind a Provider (a file, a PKCS#11 HSM, or a keys plugin), and
// the key store keys.db that holds every engagement's data key wrapped by
// the KEK, the wrapped site secrets, purge tombstones and the store's
// integrity checkpoint.
//
// A Ring is the open key store. It unwraps data keys on demand (with a
// bounded cache), destroys them for purges (crypto-shredding), and rotates
// the KEK resumably (Rotate). The content database and its bucket layout
// are the store package's; this package never sees customer content.
//
// Methods that can wait (for the provider, or for keys.db's writer and its
// fsync) take a context.
package keys
