#!/usr/bin/perl
# The directories of a checkout that git looks into for files, for the sync server's inotify watch.
#
#   watch-dirs.pl CHECKOUT IGNORED
#
# IGNORED     NUL-separated paths, relative to CHECKOUT, that a pattern ignores (`git check-ignore -z`
#             output; a directory ends with `/`); only the directories are used
# Prints `INODE\0PATH\0` for CHECKOUT and every directory under it (absolute paths), except .git, ignored
# directories, nested repositories (a directory with a .git entry: git does not list their files) and
# what is under those; symlinks are not followed. Exits 3, naming each, when a directory cannot be
# read (its changes could not be watched).
use strict;
use warnings;

my ($checkout, $ignored_list) = @ARGV;
die "usage: watch-dirs.pl CHECKOUT IGNORED\n" unless defined $ignored_list;
die "CHECKOUT must be an absolute path, not $checkout\n" unless $checkout =~ m{^/};
$checkout =~ s{/+\z}{} unless $checkout eq '/';

my %ignored;
{
  local $/ = "\0";
  open(my $in, '<:raw', $ignored_list) or die "cannot read $ignored_list: $!\n";
  while (my $path = <$in>) {
    chomp $path;
    $ignored{$1} = 1 if $path =~ m{\A(.+)/\z};
  }
}

binmode STDOUT;
my $unreadable = 0;
my @root = lstat $checkout or die "cannot read $checkout: $!\n";
# [path relative to CHECKOUT, its inode]; the inode tells the server a directory replaced by another
# of the same name (its watch followed the old one).
my @pending = (['', $root[1]]);
while (@pending) {
  my ($relative, $inode) = @{ pop @pending };
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
    my @s = lstat "$checkout/$path" or next;
    next unless -d _;                              # files, and symlinks (never followed)
    next if $ignored{$path};
    next if lstat "$checkout/$path/.git";           # a nested repository or a submodule
    push @pending, [$path, $s[1]];
  }
  closedir $handle;
}
exit($unreadable > 0 ? 3 : 0);
