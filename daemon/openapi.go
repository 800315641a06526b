package daemon

import _ "embed"

// openAPIDoc is the API's OpenAPI 3.1 description, maintained by hand
// beside the routes; TestOpenAPICoversRoutes fails when they drift apart.
//
//go:embed openapi.json
var openAPIDoc []byte
