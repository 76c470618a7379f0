"""Line-break handling between the Lark lexer and parser.

Rules (the language reference states them too):
- a line break ends a statement; consecutive statements in a body or bracket feed each other,
  exactly as if joined by `-`;
- a line break inside parentheses is whitespace;
- a line break right after `-`, `,`, `[`, `(`, `{`, `=`, `:` or an operator is whitespace, and
  one right before `-`, `,`, `]`, `)` or `}` is whitespace too (the grammar's `_CONT` terminal);
- blank lines and comment lines are whitespace; tabs are whitespace.
"""

from __future__ import annotations

from collections.abc import Iterator

from lark import Token

_OPENERS = {"LPAR", "LPAR_ARGS"}
_CONTINUES = {"MINUS", "COMMA", "LSQB", "LPAR", "LPAR_ARGS", "LBRACE", "EQUAL", "COLON",
              "STAGE", "SETTING_KEY", "ADD_OP", "MUL_OP", "PLUS", "POW_OP", "COMP_OP",
              "IF", "ELSE", "AND", "OR", "NOT"}


class LineBreaks:
    """A Lark post-lexer that decides which line breaks are statement separators."""

    always_accept = ("_NL",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        depth = 0
        prev: str | None = None
        for tok in stream:
            kind = tok.type
            if kind == "_NL":
                if depth or prev is None or prev in _CONTINUES or prev == "_NL":
                    continue
            elif kind in _OPENERS:
                depth += 1
            elif kind == "RPAR" and depth:
                depth -= 1
            prev = kind
            yield tok
