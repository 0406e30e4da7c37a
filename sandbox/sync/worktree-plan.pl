#!/usr/bin/perl
# Plans and applies the working-tree side of dev sync, from git's own list of the host's files.
#
#   worktree-plan.pl HOST REPO HOST_LIST PREVIOUS NEXT COPY_LIST SAVE_DIR CHANGES
#
# HOST_LIST   NUL-separated paths `git ls-files -z --cached --others --exclude-standard` gives on the
#             host checkout (tracked + untracked-not-ignored: git's rules, not an approximation)
# PREVIOUS    NUL-separated paths the host had at the last sync (the host owns them); absent on the
#             first sync, when the image's tracked files are the baseline (written by the caller)
# Writes NEXT (the paths the host has now), COPY_LIST (NUL-separated paths rsync must copy: new or
# different by type, size, mtime or mode) and CHANGES (one `new|changed|deleted|saved|unreadable PATH`
# line each), and prints `key=value` counts on stdout.
#
# Ownership (see sandbox/README.md): a path the host has is the host's, in the sandbox it follows the
# host (copied, overwritten, deleted when the host deletes it). A path the host never had is the
# sandbox's: never deleted; when the host now brings a different file to the same path, the sandbox's
# is first copied to SAVE_DIR. A path the host still has on disk but now ignores is left as it is.
use strict;
use warnings;

my ($host, $repo, $host_list, $previous, $next, $copy_list, $save_dir, $changes) = @ARGV;
die "usage: worktree-plan.pl HOST REPO HOST_LIST PREVIOUS NEXT COPY_LIST SAVE_DIR CHANGES\n" unless defined $changes;

sub read_nul {
  my ($file) = @_;
  my %set;
  open(my $in, '<:raw', $file) or return undef;
  local $/ = "\0";
  while (my $path = <$in>) {
    chomp $path;
    $set{$path} = 1 if length $path;
  }
  close $in;
  return \%set;
}

my $listed = read_nul($host_list) or die "cannot read $host_list: $!\n";
my $before = read_nul($previous) // {};

open(my $next_out, '>:raw', $next) or die "cannot write $next: $!\n";
open(my $copy_out, '>:raw', $copy_list) or die "cannot write $copy_list: $!\n";
open(my $log, '>:raw', $changes) or die "cannot write $changes: $!\n";

my %count = (new => 0, changed => 0, deleted => 0, saved => 0, unreadable => 0, kept => 0);
my @unreadable;

sub note { my ($kind, $path) = @_; $count{$kind}++; print $log "$kind $path\n"; }

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

# The sandbox's own file at PATH, copied aside before the host's replaces it.
sub save {
  my ($path) = @_;
  my $target = "$save_dir/$path";
  mkparents($target);
  system('cp', '-a', '--', "$repo/$path", $target) == 0 or die "cannot save $repo/$path to $target\n";
  note('saved', $path);
}

sub same_content {
  my ($a, $b) = @_;
  return system('cmp', '-s', '--', $a, $b) == 0;
}

for my $path (sort keys %$listed) {
  my @h = lstat "$host/$path";
  if (!@h) {
    if ($!{ENOENT} || $!{ENOTDIR}) { next; }  # deleted on the host (still in its index): not the host's any more
    push @unreadable, $path;                     # e.g. under a directory the sandbox user cannot enter
    print $next_out "$path\0";
    next;
  }
  next if -d _;                                   # a submodule's gitlink: its content is not synced
  print $next_out "$path\0";
  my $host_is_link = -l _;
  if (!$host_is_link && !-r _) { push @unreadable, $path; next; }
  my @s = lstat "$repo/$path";
  if (!@s) { print $copy_out "$path\0"; note('new', $path); next; }
  my $same;
  if ($host_is_link) {
    $same = -l _ && readlink("$repo/$path") eq readlink("$host/$path");
  } else {
    $same = -f _ && $s[7] == $h[7] && $s[9] == $h[9] && ($s[2] & 0777) == ($h[2] & 0777);
  }
  next if $same;
  if (-d "$repo/$path" && !-l "$repo/$path") {
    # The sandbox has a directory where the host has a file: never replaced (it may hold sandbox work).
    note('kept', $path);
    next;
  }
  if (!$before->{$path} && !(-f "$repo/$path" && !$host_is_link && same_content("$host/$path", "$repo/$path"))) {
    save($path);
  }
  print $copy_out "$path\0";
  note('changed', $path);
}

# What the host had at the last sync and has no more: deleted here too, unless the host still has it
# on disk (it is ignored there now: the sandbox keeps its copy, which becomes the sandbox's).
for my $path (sort keys %$before) {
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

close $next_out;
close $copy_out;
for my $path (@unreadable) { note('unreadable', $path); }
close $log;
print "$_=$count{$_}\n" for sort keys %count;
