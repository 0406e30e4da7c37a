#!/usr/bin/perl
# Plans and applies the working-tree side of dev sync, from git's own list of the host's files.
#
#   worktree-plan.pl HOST REPO HOST_LIST PREVIOUS NEXT COPY_LIST SAVE_DIR CHANGES
#   worktree-plan.pl --edited EDITED HOST REPO PREVIOUS NEXT COPY_LIST SAVE_DIR CHANGES
#
# EDITED      instead of HOST_LIST: NUL-separated paths of the only files that may have changed since
#             PREVIOUS was complete (the sync server's inotify watch saw them written, and no file
#             or directory made, deleted or renamed): the paths are PREVIOUS's, and only EDITED's
#             are looked at on the host (paths not in PREVIOUS are ignored ones, and skipped)
# HOST_LIST   (`-` for stdin, so git lists while this compares) NUL-separated paths `git ls-files -z --cached --others --exclude-standard` gives on the
#             host checkout (tracked + untracked-not-ignored: git's rules, not an approximation)
# PREVIOUS    `path\0signature\0` records: the paths the host had at the last sync (the host owns them)
#             and each one's type, size, mtime and mode then (`?` when unknown: the first sync, when
#             the image's tracked files are the baseline, written by the caller)
# Writes NEXT (the same records for now), COPY_LIST (NUL-separated paths rsync must copy) and CHANGES
# (one `new|changed|deleted|saved|kept|unreadable PATH` line each), and prints `key=value` counts;
# when nothing changed, also `unchanged=1`, and NEXT is not written (PREVIOUS is still right).
#
# A file the host did not change since the last sync is not looked at in the sandbox (one lstat per
# file, on the host side only): that is what makes a no-change sync cheap. When every path and
# signature is PREVIOUS's, byte for byte, that is all it does (no hash of 20,000 paths); when the host
# lists the same paths as last time (edits only), the last signatures are matched by position.
#
# Ownership (see sandbox/README.md): a path the host has is the host's. When the host changes it, the
# host's copy replaces the sandbox's; when the host deletes it, it is deleted here too. A sandbox edit
# of a host file stays until the host changes that file; then, like a path the host never had that
# the host now brings, the sandbox's different copy is first saved under SAVE_DIR. A path the host
# never had is the sandbox's and never deleted. A path the host still has on disk but now ignores is
# left as it is (it becomes the sandbox's).
use strict;
use warnings;

my $edited_list;
if (@ARGV && $ARGV[0] eq '--edited') { (undef, $edited_list) = splice @ARGV, 0, 2; }
my ($host, $repo, $host_list, $previous, $next, $copy_list, $save_dir, $changes) = defined $edited_list ? ($ARGV[0], $ARGV[1], undef, @ARGV[2 .. $#ARGV]) : @ARGV;
die "usage: worktree-plan.pl [--edited EDITED] HOST REPO HOST_LIST PREVIOUS NEXT COPY_LIST SAVE_DIR CHANGES (no HOST_LIST with --edited)\n" unless defined $changes;

local $/ = "\0";
my $previous_text = '';
if (open(my $in, '<:raw', $previous)) {
  local $/;
  $previous_text = <$in> // '';
}

open(my $next_out, '>:raw', $next) or die "cannot write $next: $!\n";
open(my $copy_out, '>:raw', $copy_list) or die "cannot write $copy_list: $!\n";
open(my $log, '>:raw', $changes) or die "cannot write $changes: $!\n";

# linked: listed files with more than one hard link (an edit through another name, outside the
# checkout's watched directories, makes no inotify event here: the sync server must not skip listing).
my %count = (new => 0, changed => 0, deleted => 0, saved => 0, unreadable => 0, kept => 0, linked => 0);
my (@unreadable, %has);

sub note { my ($kind, $path) = @_; $count{$kind}++; print $log "$kind $path\n"; }

# type, size, mtime (seconds: what rsync's quick check compares) and permission bits of an lstat.
sub signature { my @s = @_; return (($s[2] & 0170000) >> 12) . ":$s[7]:$s[9]:" . ($s[2] & 0777); }

sub mkparents {
  my ($path) = @_;
  my $dir = '';
  my @parts = split m{/}, $path;
  pop @parts;
  for my $part (@parts) {
    $dir .= "/$part";
    next if -d $dir;
    mkdir $dir or die "cannot create $dir: $!\n";
  }
}

# The sandbox's own copy of PATH, set aside before the host's replaces it.
sub save {
  my ($path) = @_;
  my $target = "$save_dir/$path";
  mkparents($target);
  system('cp', '-a', '--', "$repo/$path", $target) == 0 or die "cannot save $repo/$path to $target\n";
  note('saved', $path);
}

sub same_file {
  my ($path) = @_;
  my ($a, $b) = ("$host/$path", "$repo/$path");
  return readlink($a) eq readlink($b) if -l $a && -l $b;
  return 0 if -l $a || -l $b || !-f $b;
  return system('cmp', '-s', '--', $a, $b) == 0;
}

# --edited: PREVIOUS's records, of which only EDITED's paths are looked at on the host (the others
# keep their last signature; an edited path PREVIOUS does not have is an ignored file, skipped).
if (defined $edited_list) {
  my %edited;
  {
    open(my $in, '<:raw', $edited_list) or die "cannot read $edited_list: $!\n";
    local $/ = "\0";
    while (my $path = <$in>) { chomp $path; $edited{$path} = 1 if length $path; }
  }
  my @records = split /\0/, $previous_text, -1;
  pop @records if @records && $records[-1] eq '';
  my $moved = 0;
  for (my $i = 0; $i + 1 < @records; $i += 2) {
    next unless $edited{$records[$i]};
    my ($path, $last) = @records[$i, $i + 1];
    my @h = lstat "$host/$path";
    $count{linked}++ if @h && $h[3] > 1 && -f _;
    next if @h && !-d _ && $last eq signature(@h);
    my $record = plan_path($path, $last);
    if ($record ne $last) { $records[$i + 1] = $record; $moved = 1; }
  }
  finish(1) if !$moved && !@unreadable;
  print $next_out join("\0", @records), "\0";
  finish(0);
}

my $list_in;
if ($host_list eq '-') { $list_in = \*STDIN; binmode $list_in; }
else { open($list_in, '<:raw', $host_list) or die "cannot read $host_list: $!\n"; }

# First pass: git's list with one lstat per path, as the records NEXT would hold if nothing changed.
# When they are PREVIOUS byte for byte (the usual re-sync), nothing changed: no hash, no sandbox lstat.
# A path lstat could not read is recorded with the signature `!`, which never matches.
# Relative to HOST: the kernel walks fewer path components per lstat (about 8% of this pass, which
# is most of a no-change sync). Every other path below is absolute.
my $unreadable_seen;
my $current = '';
my $prev_path = '';
die "HOST must be an absolute path, not $host\n" unless $host =~ m{^/};
chdir $host or die "cannot enter $host: $!\n";
while (my $path = <$list_in>) {
  chomp $path;
  next if !length $path || $path eq $prev_path;   # unmerged paths come once per stage, one after the other
  $prev_path = $path;
  my @h = lstat $path;
  if (!@h) {
    next if $!{ENOENT} || $!{ENOTDIR};            # deleted on the host (still in its index)
    $current .= "$path\0!\0";                     # e.g. under a directory the sandbox user cannot enter
    $unreadable_seen = 1;
    next;
  }
  next if -d _;                                   # a submodule's gitlink: its content is not synced
  $count{linked}++ if $h[3] > 1 && -f _;
  $current .= "$path\0" . signature(@h) . "\0";
}
finish(1) if !$unreadable_seen && $current eq $previous_text;

# Something changed. When the host lists the same paths in the same order as last time (edits
# only), each path's last signature is at its index; else (added, deleted or renamed paths) by name.
my @prev = split /\0/, $previous_text, -1;
pop @prev if @prev && $prev[-1] eq '';
my (@paths, @sigs);
{
  my @records = split /\0/, $current, -1;
  pop @records;
  for (my $i = 0; $i + 1 < @records; $i += 2) {
    push @paths, $records[$i];
    push @sigs, $records[$i + 1] eq '!' ? undef : $records[$i + 1];
  }
}
my $aligned = @prev == 2 * @paths;
if ($aligned) {
  for my $i (0 .. $#paths) {
    if ($prev[2 * $i] ne $paths[$i]) { $aligned = 0; last; }
  }
}
my %before;
if (!$aligned) {
  for (my $i = 0; $i + 1 < @prev; $i += 2) { $before{$prev[$i]} = $prev[$i + 1] if length $prev[$i]; }
}

# One path the host lists whose signature is not its last one (or unknown): looks at it on the host
# and in the sandbox, copies, saves or notes it; returns the signature NEXT records for it.
sub plan_path {
  my ($path, $last) = @_;
  $has{$path} = 1;
  my @h = lstat "$host/$path";
  if (!@h) {
    # Deleted since the first pass: as if it was then; else unreadable.
    push @unreadable, $path unless $!{ENOENT} || $!{ENOTDIR};
    return $last // '?';
  }
  return $last // '?' if -d _;
  my $sig = signature(@h);
  return $sig if defined $last && $last eq $sig;
  my $host_is_link = -l _;
  if (!$host_is_link && !-r _) {
    push @unreadable, $path;
    return $last // '?';
  }
  my @s = lstat "$repo/$path";
  if (!@s) { print $copy_out "$path\0"; note('new', $path); return $sig; }
  my $mine = signature(@s);
  return $sig if $mine eq $sig;                   # already the host's
  if (-d _) {
    # The sandbox has a directory where the host has a file: never replaced (it may hold sandbox work).
    note('kept', $path);
    return $sig;
  }
  # The sandbox's copy is its own work when the host never had the path, or the sandbox changed it
  # since the last sync: saved first, unless it is the host's content already.
  my $own = !defined $last || ($last ne '?' && $last ne $mine);
  save($path) if $own && !same_file($path);
  print $copy_out "$path\0";
  note('changed', $path);
  return $sig;
}

if ($aligned) {
  # Edits only: the paths whose signature moved are looked at; NEXT is the first pass's records but
  # for those whose recorded signature differs from it (rare: deleted or unreadable meanwhile).
  my %recorded;
  for my $i (0 .. $#paths) {
    my ($sig, $last) = ($sigs[$i], $prev[2 * $i + 1]);
    next if defined $sig && $last eq $sig;        # unchanged on the host since the last sync
    my $record = plan_path($paths[$i], $last);
    $recorded{$i} = $record unless defined $sig && $record eq $sig;
  }
  if (!%recorded) { print $next_out $current; }
  else { print $next_out "$paths[$_]\0", ($recorded{$_} // $sigs[$_]), "\0" for 0 .. $#paths; }
} else {
  for my $i (0 .. $#paths) {
    my ($path, $sig) = ($paths[$i], $sigs[$i]);
    my $last = $before{$path};
    if (defined $sig && defined $last && $last eq $sig) {   # unchanged on the host since the last sync
      $has{$path} = 1;
      print $next_out "$path\0$sig\0";
      next;
    }
    print $next_out "$path\0", plan_path($path, $last), "\0";
  }
}

# What the host had at the last sync and has no more: deleted here too, unless the host still has it
# on disk (it is ignored there now: the sandbox keeps its copy, which becomes the sandbox's).
for my $path ($aligned ? () : sort keys %before) {
  next if $has{$path};
  next if lstat "$host/$path";
  next unless $!{ENOENT} || $!{ENOTDIR};
  my @s = lstat "$repo/$path";
  next unless @s;
  next if -d _;
  unlink "$repo/$path" or do { print STDERR "cannot delete $repo/$path: $!\n"; next; };
  note('deleted', $path);
  my $dir = $path;
  while ($dir =~ s{/[^/]*$}{}) { last unless rmdir "$repo/$dir"; }
}

finish(0);

# Closes the outputs and prints the counts; with UNCHANGED, NEXT is removed (PREVIOUS stays as it is)
# and `unchanged=1` printed. Exits.
sub finish {
  my ($unchanged) = @_;
  close $next_out;
  unlink $next if $unchanged;
  close $copy_out;
  note('unreadable', $_) for @unreadable;
  close $log;
  $\ = "\n";
  local $/ = "\n";
  print "$_=$count{$_}" for sort keys %count;
  print "unchanged=1" if $unchanged;
  exit 0;
}
