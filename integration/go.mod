module github.com/cybercorp/hotreload/integration

go 1.26.0

require (
	github.com/chromedp/chromedp v0.23.0
	github.com/cybercorp/hotreload v0.0.0
)

require (
	github.com/chromedp/cdproto v0.159.0 // indirect
	github.com/fsnotify/fsnotify v1.10.1 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/gobwas/httphead v0.1.0 // indirect
	github.com/gobwas/ws v1.5.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace github.com/cybercorp/hotreload => ../
