// Package webui is what the server's human-facing pages share: the admin
// console (api/console) and the customer portal (api/portal). It holds the
// strict security headers, the session and pre-session cookies with their
// CSRF check before sign-in, the layout-plus-page template set, and the
// error page's status and message (api.Status, the API's one table).
//
// Each area keeps its own sessions (console users, customers), routes and
// templates; only the mechanics live here, so a fix to a header or a cookie
// flag applies to both.
package webui
