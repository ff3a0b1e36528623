#!/bin/sh
exec "${top_srcdir:-.}/build-aux/syntax-check.sh" "${top_srcdir:-.}"
