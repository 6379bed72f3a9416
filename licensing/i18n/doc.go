// Package i18n is Narcidi's message catalog and locale formatting: the
// words of the console, the portal, the sign-in pages, the mails
// (customers' and staff's) and the CLI's messages in English and
// Portuguese, chosen per reader (FromEnv for a command line), and dates, times,
// numbers and money written as that reader reads them.
//
// Each language is one JSON file in catalogs/ (embedded): its messages by
// key, with named placeholders ("{product}") and plural forms where a
// count decides the words, and its formats (month names, date pattern,
// separators, money pattern). A language may name a base ("pt-BR" is based
// on "pt-PT"): it then holds only the messages whose words differ, and the
// rest come from its base, then from English. Adding a language is adding
// one file (see README, "Languages").
//
// Languages are matched with golang.org/x/text/language (a customer's or a
// user's preference, then Accept-Language, then the server default) and
// plural forms are chosen by the CLDR rules of golang.org/x/text/feature/plural.
// Say makes an error whose words are a catalog message (Said): English in
// Error for logs, in a reader's language through In (the CLI's cli.Words).
// Pure: no I/O besides the embedded files, so the domain's mail rendering,
// the workers and the web pages share it.
package i18n
