# SPDX-License-Identifier: GPL-2.0-or-later
# console-lib.tcl: helpers for the console's expect tests (TAP output).
#
# The console runs in a pseudo-terminal of a fixed size with a fixed TERM,
# LANG and TZ, on a fresh demo fleet in a private directory.  With
# DROVER_SCREEN_DUMP set it writes the screen as text after every repaint;
# tests wait for text there (polling with a deadline, never a fixed sleep)
# and keep the raw terminal output for the colour and line-drawing checks.

set timeout 20
log_user 0
match_max 200000
set tap_n 0
set tap_failed 0
set raw ""

if {![info exists env(DROVER)]} {
    set env(DROVER) [file join [pwd] drover]
}
set drover $env(DROVER)

proc ok {cond desc} {
    global tap_n tap_failed
    incr tap_n
    if {$cond} {
        puts "ok $tap_n - $desc"
    } else {
        incr tap_failed
        puts "not ok $tap_n - $desc"
    }
}

proc diag {text} {
    foreach line [split $text "\n"] {
        puts "# $line"
    }
}

proc skip_all {why} {
    puts "1..0 # SKIP $why"
    exit 0
}

proc done_testing {} {
    global tap_n tap_failed T
    puts "1..$tap_n"
    if {$tap_failed == 0} {
        catch {exec rm -rf $T}
        exit 0
    }
    puts "# $tap_failed failed; files kept in $T"
    exit 1
}

# A private directory with a configuration that keeps the audit log and
# the job history inside it, and a demo fleet.
proc setup {{refresh 2} {extra ""}} {
    global T env drover uri fleet conf
    set T [exec mktemp -d "/tmp/drover-console.XXXXXX"]
    set fleet "$T/fleet"
    set conf "$T/drover.conf"
    set f [open $conf w]
    puts $f "audit_log = \"$T/audit.log\";"
    puts $f "job_history = \"$T/jobs.jsonl\";"
    puts $f "shutdown_timeout = 5;"
    puts $f "refresh_interval = $refresh;"
    puts $f $extra
    close $f
    set env(XDG_CONFIG_HOME) "$T/config"
    set env(XDG_STATE_HOME) "$T/state"
    # Audit lines go to a socket of the test's, not the system log.
    set env(DROVER_SYSLOG_SOCKET) "$T/syslog.sock"
    set env(DROVER_SYSCONFDIR) "/nonexistent"
    set env(TZ) "UTC"
    catch {unset env(LIBVIRT_DEFAULT_URI)}
    catch {unset env(NO_COLOR)}
    if {[catch {exec $drover demo --no-console --dir $fleet 2>@1} out]} {
        diag $out
        skip_all "cannot build a demo fleet"
    }
    set uri [lindex [split [string trim $out] "\n"] end]
}

# Starts the console: spawn_console ?-term T? ?-lang L? ?-size {R C}? ?-env {K V ...}? args...
proc spawn_console {args} {
    global drover conf uri T stty_init console_id console_pid raw spawn_out
    set term xterm-256color
    set lang C.UTF-8
    set rows 24
    set cols 80
    set extra {}
    while {[llength $args] && [lsearch -exact {-term -lang -size -env} [lindex $args 0]] >= 0} {
        set opt [lindex $args 0]
        set val [lindex $args 1]
        set args [lrange $args 2 end]
        switch -- $opt {
            -term { set term $val }
            -lang { set lang $val }
            -size { set rows [lindex $val 0]; set cols [lindex $val 1] }
            -env { set extra $val }
        }
    }
    set raw ""
    file delete -force "$T/screen.txt"
    set stty_init "rows $rows columns $cols"
    set cmd [list env TERM=$term LANG=$lang LC_ALL=$lang TZ=UTC DROVER_SCREEN_DUMP=$T/screen.txt]
    foreach {k v} $extra {
        lappend cmd "$k=$v"
    }
    lappend cmd $drover --config $conf -c $uri
    set cmd [concat $cmd $args]
    set console_pid [eval spawn -noecho $cmd]
    set console_id $spawn_id
    global console_slave
    set console_slave $spawn_out(slave,name)
    return $console_pid
}

# The screen as the console last drew it.
proc screen {} {
    global T
    if {[catch {open "$T/screen.txt" r} f]} {
        return ""
    }
    set s [read $f]
    close $f
    return $s
}

# The screen with box borders removed and whitespace collapsed, so text
# wrapped inside a dialog reads as one line.
proc flat {{text ""}} {
    if {$text eq ""} {
        set text [screen]
    }
    regsub -all {[\u2502\u2500|]} $text " " text
    regsub -all {\s+} $text " " text
    return $text
}

# Reads whatever the console wrote (at most wait seconds); 0 at eof.
proc pump {wait} {
    global raw console_id
    set spawn_id $console_id
    set timeout $wait
    expect {
        -re {.+} {
            append raw $expect_out(buffer)
            return 1
        }
        timeout { return 1 }
        eof { return 0 }
    }
    return 1
}

# Waits until the screen matches the regular expression; 1 or 0.
proc wait_screen {re {secs 20}} {
    set deadline [expr {[clock milliseconds] + $secs * 1000}]
    while {[clock milliseconds] < $deadline} {
        if {[regexp -- $re [screen]]} {
            return 1
        }
        if {![pump 1]} {
            return [regexp -- $re [screen]]
        }
    }
    return [regexp -- $re [screen]]
}

# Waits until the screen no longer matches.
proc wait_screen_not {re {secs 20}} {
    set deadline [expr {[clock milliseconds] + $secs * 1000}]
    while {[clock milliseconds] < $deadline} {
        if {![regexp -- $re [screen]]} {
            return 1
        }
        if {![pump 1]} {
            break
        }
    }
    return [expr {![regexp -- $re [screen]]}]
}

# Waits until PATH exists (a pause point's file); 1 or 0.
proc wait_file {path {secs 20}} {
    set deadline [expr {[clock milliseconds] + $secs * 1000}]
    while {[clock milliseconds] < $deadline} {
        if {[file exists $path]} {
            return 1
        }
        pump 1
    }
    return [file exists $path]
}

proc key {k} {
    global console_id
    switch -- $k {
        up { set s "\033OA" }
        down { set s "\033OB" }
        right { set s "\033OC" }
        left { set s "\033OD" }
        enter { set s "\r" }
        esc { set s "\033" }
        tab { set s "\t" }
        pgup { set s "\033\[5~" }
        pgdn { set s "\033\[6~" }
        ctrl-l { set s "\014" }
        ctrl-r { set s "\022" }
        home { set s "\033OH" }
        end { set s "\033OF" }
        f1 { set s "\033OP" }
        f3 { set s "\033OR" }
        f5 { set s "\033\[15~" }
        f6 { set s "\033\[17~" }
        f10 { set s "\033\[21~" }
        default { set s $k }
    }
    send -i $console_id -- $s
}

proc type {text} {
    global console_id
    foreach ch [split $text ""] {
        send -i $console_id -- $ch
    }
}

# Moves the selection to the row of VM name (the table is sorted by name).
proc select_vm {name} {
    key "/"
    type $name
    key enter
    if {[wait_screen "(?n)^fleet +$name +"]} {
        return 1
    }
    # A message that came up meanwhile (a job's result) took the keys:
    # close it, clear the filter, and try once more.
    if {[regexp {Enter or Esc: close} [screen]]} {
        key enter
    }
    key esc
    key "/"
    type $name
    key enter
    set r [wait_screen "(?n)^fleet +$name +"]
    if {!$r} {
        diag [screen]
    }
    return $r
}

proc clear_filter {} {
    key esc
    return [wait_screen { (\d+)/\1 VMs}]
}

# Resizes the console's terminal and tells it.
proc resize {rows cols} {
    global console_pid console_slave
    # The console's own terminal, even after other processes were spawned.
    exec stty rows $rows columns $cols < $console_slave
    exec kill -WINCH $console_pid
}

# Quits (q) and returns the exit status, or -1 if it did not end.
proc quit_console {} {
    global console_id raw
    set spawn_id $console_id
    set timeout 20
    key q
    expect {
        -re {.+} { append raw $expect_out(buffer); exp_continue }
        eof {}
        timeout { return -1 }
    }
    set st [wait -i $console_id]
    return [lindex $st 3]
}

# The text of one row of the table ("" if it is not on screen).
proc row_of {name} {
    foreach line [split [screen] "\n"] {
        if {[regexp "^fleet +$name " $line]} {
            return $line
        }
    }
    return ""
}

# Every SGR sequence in the raw output that sets a colour.
proc colour_escapes {text} {
    set found {}
    foreach seq [regexp -all -inline {\033\[[0-9;]*m} $text] {
        set params [string range $seq 2 end-1]
        foreach p [split $params ";"] {
            if {$p ne "" && $p >= 30 && $p <= 49} {
                lappend found [string map [list "\033" "ESC"] $seq]
                break
            }
        }
    }
    return $found
}

# The UUID of a VM, from drover's command line.
proc vm_uuid {name} {
    global drover conf uri
    set out [exec $drover --config $conf -c $uri show $name]
    if {[regexp {([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})} $out -> u]} {
        return $u
    }
    return ""
}

# --- the console in tmux: what a real terminal shows --------------------
#
# DROVER_SCREEN_DUMP is what curses means to show; tmux is a terminal
# emulator, so its pane is what the operator really sees (stale text that
# curses does not know about included).

proc tmux {args} {
    global T
    return [eval exec tmux -u -S $T/tmux.sock $args]
}

# Starts the console in a detached tmux pane of rows x cols.
proc tmux_console {rows cols args} {
    global drover conf uri T env
    if {[auto_execok tmux] eq ""} {
        skip_all "tmux is not installed"
    }
    file delete -force "$T/screen.txt"
    set cmd [list env TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 TZ=UTC \
                 DROVER_SCREEN_DUMP=$T/screen.txt $drover --config $conf -c $uri]
    set cmd [concat $cmd $args]
    set env(LC_ALL) C.UTF-8
    tmux -f /dev/null new-session -d -x $cols -y $rows [join $cmd " "]
    tmux set-option -g status off
}

# What the tmux pane shows, trailing blanks removed.
proc tmux_screen {} {
    set lines {}
    foreach l [split [tmux capture-pane -p] "\n"] {
        lappend lines [string trimright $l]
    }
    return [string trimright [join $lines "\n"] "\n"]
}

proc dump_trimmed {} {
    return [string trimright [screen] "\n"]
}

# Waits until the pane shows exactly what curses drew; 1 or 0.
proc tmux_wait_true {{secs 20}} {
    set deadline [expr {[clock milliseconds] + $secs * 1000}]
    while {[clock milliseconds] < $deadline} {
        if {[tmux_screen] eq [dump_trimmed] && [dump_trimmed] ne ""} {
            return 1
        }
        after 100
    }
    return 0
}

# Waits until the console drew again (the dump file was replaced).
proc dump_rewritten {before {secs 20}} {
    global T
    set deadline [expr {[clock milliseconds] + $secs * 1000}]
    while {[clock milliseconds] < $deadline} {
        if {![catch {file stat "$T/screen.txt" st}] && $st(ino) != $before} {
            return 1
        }
        after 50
    }
    return 0
}

proc dump_inode {} {
    global T
    if {[catch {file stat "$T/screen.txt" st}]} {
        return 0
    }
    return $st(ino)
}

# Waits until the dump matches re (no expect spawn: the console is in tmux).
proc tmux_wait_dump {re {secs 20}} {
    set deadline [expr {[clock milliseconds] + $secs * 1000}]
    while {[clock milliseconds] < $deadline} {
        if {[regexp -- $re [screen]]} {
            return 1
        }
        after 100
    }
    return [regexp -- $re [screen]]
}

# Resizes the tmux window (tmux sends the console SIGWINCH).
proc tmux_resize {rows cols} {
    tmux resize-window -x $cols -y $rows
}

proc tmux_stop {} {
    catch {tmux kill-server}
}

# Presses PgDn (at most max times) until the screen matches re; 1 or 0.
# For lists that grow (the help gains keys), not a fixed count.
proc pgdn_until {re {max 8}} {
    for {set i 0} {$i < $max} {incr i} {
        if {[regexp -- $re [screen]]} {
            return 1
        }
        key pgdn
        if {[wait_screen $re 2]} {
            return 1
        }
    }
    return [regexp -- $re [screen]]
}
