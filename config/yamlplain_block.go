package config

import "strings"

// blockScalar reads the literal (|) or folded (>) block scalar whose header is
// at p.i, the value of a key or an entry in column col, and moves to the line
// after it. go-yaml reads block scalars as the YAML spec does but in corners,
// which this leaves to it. The header holds a chomping indicator or not, strip
// (-) or keep (+), and an indentation indicator or not, 1 to 9 columns more
// than col, in either order, then blanks and a comment. The content is the
// lines below indented by the indicator or else by the first line that holds
// more than blanks, deeper than col; a line indented more keeps its extra
// blanks, and in a folded scalar its line breaks; a line of blanks is empty, or
// in a literal scalar content if longer than the indentation; blanks at a
// line's end stay but for the last ones of a stripped scalar, which go-yaml
// drops. Keep chomping keeps the trailing empty lines, up to a line indented
// less. It leaves to go-yaml an empty scalar but for clip or strip right before
// a line indented less or the end (go-yaml refuses some after empty lines),
// content of blanks alone, in a folded scalar a line of blanks longer than the
// indentation (go-yaml folds the lines after it otherwise), empty lines before
// the content longer than the indentation found after them, a line indented
// less than the indicator says before the content, trailing empty lines that
// end the source after an indentation indicator (an error), content or
// blanks ending the source without a line break, and a tab right after the
// blanks of the line that sets the indentation (go-yaml counts it in the
// indentation), first in a folded scalar's line, or on a line of blanks.
func (p *yamlPlain) blockScalar(col int) (any, bool) {
	folded := p.src[p.i] == '>'
	chomp, indent, ok := p.blockHeader(col)
	if !ok || p.eof() {
		return nil, false
	}
	indicated := indent > 0
	var (
		lines []string // the content, each line without its indentation; "" for an empty line
		empty int      // the empty lines since the last content line
		lead  int      // the blanks of the longest empty line before the content
		end   = p.i    // the '\n' that ends the last content line
		text  = false  // whether a content line holds more than blanks
	)
	ls := p.i + 1
scan:
	for ls < len(p.src) {
		le := strings.IndexByte(p.src[ls:], '\n')
		if le < 0 {
			le = len(p.src) - ls // the last line, without a line break
		}
		line := p.src[ls : ls+le]
		rest := strings.TrimLeft(line, " ")
		sp := len(line) - len(rest)
		switch {
		case ls+le == len(p.src) && (rest == "" || sp > col):
			return nil, false // content, or blanks, without a line break
		case rest == "" && (indent == 0 || sp <= indent):
			empty++
			if len(lines) == 0 {
				lead = max(lead, sp)
			}
		case rest != "" && indent == 0 && sp > col:
			if rest[0] == '\t' {
				return nil, false // go-yaml counts the tab in the indentation
			}
			indent = sp
			fallthrough
		case sp >= indent && indent > 0:
			if folded && (rest == "" || line[indent] == '\t') {
				return nil, false // go-yaml folds the lines after otherwise
			}
			if strings.Trim(rest, " \t") == "" && rest != "" {
				return nil, false // a line of blanks and tabs
			}
			for ; empty > 0; empty-- {
				lines = append(lines, "")
			}
			lines, end = append(lines, line[indent:]), ls+le
			text = text || rest != ""
		case len(lines) == 0 && indicated:
			return nil, false // a line indented less than the indicator says
		default: // a line indented less: the scalar ended before it
			break scan
		}
		ls += le + 1
	}
	switch {
	case len(lines) == 0 && chomp != '+' && !indicated && empty == 0:
		p.i = end
		return "", p.nextLine() // an empty scalar
	case !text || lead > indent:
		return nil, false
	case indicated && empty > 0 && ls >= len(p.src):
		return nil, false // go-yaml fails on the empty last line
	}
	p.i = end
	return joinBlock(lines, folded, chomp, empty), p.nextLine()
}

// blockHeader reads the header of the block scalar at p.i, the value of a
// key or an entry in column col: the chomping indicator ('-', '+' or 0
// for clip) and the content's indentation, 0 if no indicator gives it. It
// moves p.i to the '\n' that ends the header's line.
func (p *yamlPlain) blockHeader(col int) (chomp byte, indent int, ok bool) {
	for p.i++; p.i < len(p.src); p.i++ {
		c := p.src[p.i]
		if (c == '-' || c == '+') && chomp == 0 {
			chomp = c
		} else if c >= '1' && c <= '9' && indent == 0 {
			indent = col + int(c-'0')
		} else {
			break
		}
	}
	for p.i < len(p.src) && p.src[p.i] == ' ' {
		p.i++
	}
	if !p.lineRest() {
		return 0, 0, false // another indicator, or text after the header
	}
	p.toLineEnd()
	return chomp, indent, true
}

// joinBlock returns the value of a block scalar whose content is lines
// (see blockScalar) and empty trailing empty lines: in a folded scalar,
// the line break between two lines that do not start with a blank gives
// a blank, or nothing before empty lines; chomp tells what follows the
// last line: a line break (clip), one per empty line too (keep, '+'), or
// nothing, and then go-yaml drops the blanks the content ends with
// (strip, '-').
func joinBlock(lines []string, folded bool, chomp byte, empty int) string {
	var b strings.Builder
	last := -1 // the last line written that is not empty
	for k, l := range lines {
		if l == "" {
			continue
		}
		breaks := k - last
		if last < 0 {
			breaks = k
		} else if folded && lines[last][0] != ' ' && l[0] != ' ' {
			if breaks--; breaks == 0 {
				b.WriteByte(' ')
			}
		}
		for range breaks {
			b.WriteByte('\n')
		}
		b.WriteString(l)
		last = k
	}
	switch chomp {
	case '-':
		return strings.TrimRight(b.String(), " ")
	case '+':
		for range empty {
			b.WriteByte('\n')
		}
	}
	b.WriteByte('\n')
	return b.String()
}
