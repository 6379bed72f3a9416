// Package apiclient is a typed Go client of Narcidi's admin REST API. It
// sends the domain's own input types (licensing.LicenseInput,
// licensing.ExtendInput, licensing.CustomerInput, ...) and decodes answers
// into the domain's types (licensing.License, licensing.Machine, ...), so a
// caller never builds a path or a map by hand.
//
// An answer other than 2xx becomes an *Error whose cause is the
// *licensing.Error of the problem's code: licensing.ErrorCode(err) is the
// same code the server's domain returned, e.g. licensing.ENotFound.
//
// The narcidi CLI's admin verbs are built on it; any Go program that
// administers a Narcidi server can use it too.
package apiclient
