#!/usr/bin/perl
# The directories of a checkout that git looks into for files, for the sync server's inotify watch.
#
#   watch-dirs.pl CHECKOUT IGNORED TRACKED
#
# IGNORED     NUL-separated paths, relative to CHECKOUT, that a pattern ignores (`git check-ignore -z`
#             output; a directory ends with `/`); only the directories are used
# TRACKED     NUL-separated paths of the files git tracks (`git ls-files -z`): a file added with
#             `git add -f` inside an ignored directory is still synced, so its directory is watched
# Prints `INODE\0PATH\0` for CHECKOUT and every directory under it (absolute paths), except .git,
# ignored directories (but for those holding tracked files: they and the way to those files) and what
# is under those; symlinks are not followed. Nested repositories are watched too (whether git lists
# their files depends on their .git, which may change). Exits 3, naming each, when a directory
# cannot be read, or is another file system mounted inside CHECKOUT (whose changes may come from
# elsewhere): its changes could not be watched.
use strict;
use warnings;

my ($checkout, $ignored_list, $tracked_list) = @ARGV;
die "usage: watch-dirs.pl CHECKOUT IGNORED TRACKED\n" unless defined $tracked_list;
die "CHECKOUT must be an absolute path, not $checkout\n" unless $checkout =~ m{^/};
$checkout =~ s{/+\z}{} unless $checkout eq '/';

sub read_list {
  my ($file) = @_;
  local $/ = "\0";
  open(my $in, '<:raw', $file) or die "cannot read $file: $!\n";
  my @paths = <$in>;
  chomp @paths;
  return @paths;
}

my %ignored;
for (read_list($ignored_list)) { $ignored{$1} = 1 if m{\A(.+)/\z}; }
# Every directory on the way to a tracked file.
my %holds_tracked;
for my $path (read_list($tracked_list)) {
  while ($path =~ s{/[^/]*\z}{}) { last if $holds_tracked{$path}++; }
}

binmode STDOUT;
my $unreadable = 0;
my @root = lstat $checkout or die "cannot read $checkout: $!\n";
# [path relative to CHECKOUT, its inode, inside an ignored directory]; the inode tells the server a
# directory replaced by another of the same name (its watch followed the old one). Inside an ignored
# directory only the way to tracked files is watched (git lists nothing else there).
my @pending = (['', $root[1], 0]);
while (@pending) {
  my ($relative, $inode, $in_ignored) = @{ pop @pending };
  my $dir = length $relative ? "$checkout/$relative" : $checkout;
  print "$inode\0$dir\0";
  my $handle;
  if (!opendir($handle, $dir)) {
    print STDERR "cannot read $dir: $!\n";
    $unreadable++;
    next;
  }
  for my $name (readdir $handle) {
    next if $name eq '.' || $name eq '..' || $name eq '.git';
    my $path = length $relative ? "$relative/$name" : $name;
    my $ignored = $in_ignored || $ignored{$path} ? 1 : 0;
    next if $ignored && !$holds_tracked{$path};
    my @s = lstat "$checkout/$path";
    if (!@s) {
      next if $!{ENOENT};                          # gone since readdir
      print STDERR "cannot read $checkout/$path: $!\n";
      $unreadable++;
      next;
    }
    next unless -d _;                              # files, and symlinks (never followed)
    if ($s[0] != $root[0]) {
      print STDERR "$checkout/$path is another file system mounted inside the checkout\n";
      $unreadable++;
      next;
    }
    push @pending, [$path, $s[1], $ignored];
  }
  closedir $handle;
}
exit($unreadable > 0 ? 3 : 0);
