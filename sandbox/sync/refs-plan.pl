#!/usr/bin/perl
# Plans the ref side of dev sync: the sandbox's refs follow the host's, and no commit made in the
# sandbox becomes unreachable.
#
#   refs-plan.pl REPO HOST_REFS SANDBOX_REFS SYNCED_REFS SAVE_PREFIX UPDATES SAVED
#
# *_REFS files hold `<sha> <refname>` lines (HOST_REFS and SYNCED_REFS also `<sha> HEAD`); SYNCED_REFS
# is what the last sync set (on the first sync, the image's refs). Refs the sandbox moved or made
# since then are the sandbox's work: a ref only the sandbox has (a new branch) is left alone; a ref
# the host also has, or deleted, gets the host's value, and when the sandbox's value holds commits no
# host ref reaches it is first saved as SAVE_PREFIX/<refname without refs/> (and a detached HEAD at
# such a commit as SAVE_PREFIX/HEAD). Writes UPDATES (`git update-ref --stdin` commands) and SAVED
# (one saved refname per line). refs/stash and refs/sandbox/ are the sandbox's and never in the lists.
use strict;
use warnings;

my ($repo, $host_file, $sandbox_file, $synced_file, $prefix, $updates_file, $saved_file) = @ARGV;
die "usage: refs-plan.pl REPO HOST_REFS SANDBOX_REFS SYNCED_REFS SAVE_PREFIX UPDATES SAVED\n" unless defined $saved_file;

sub read_refs {
  my ($file) = @_;
  my %refs;
  open(my $in, '<', $file) or return undef;
  while (my $line = <$in>) {
    chomp $line;
    my ($sha, $name) = split / /, $line, 2;
    $refs{$name} = $sha if defined $name && $name ne '';
  }
  close $in;
  return \%refs;
}

my $host = read_refs($host_file) or die "cannot read $host_file\n";
my $sandbox = read_refs($sandbox_file) or die "cannot read $sandbox_file\n";
my $synced = read_refs($synced_file) // {%$sandbox};
my $host_head = delete $host->{HEAD} // '';
my $sandbox_head = delete $sandbox->{HEAD} // '';
my $synced_head = delete $synced->{HEAD} // $sandbox_head;

my %host_tips = map { $_ => 1 } grep { /^[0-9a-f]{40,64}$/ } values %$host;

# Whether SHA holds commits no host ref reaches (it would be lost if its ref moved to the host's).
my $tips_file = "$updates_file.tips";
sub sandbox_only {
  my ($sha) = @_;
  return 0 if $host_tips{$sha};
  open(my $tips, '>', $tips_file) or die "cannot write $tips_file: $!\n";
  print $tips "$sha\n", map { "^$_\n" } keys %host_tips;
  close $tips;
  open(my $git, '-|', 'sh', '-c', 'git -C "$1" rev-list -n 1 --stdin <"$2"', 'sh', $repo, $tips_file) or die "git: $!\n";
  my $out = do { local $/; <$git> } // '';
  close $git;
  return $? != 0 || $out ne '';
}

open(my $updates, '>', $updates_file) or die "cannot write $updates_file: $!\n";
open(my $saved, '>', $saved_file) or die "cannot write $saved_file: $!\n";
my %names = map { $_ => 1 } (keys %$host, keys %$sandbox);
for my $name (sort keys %names) {
  my $h = $host->{$name};
  my $s = $sandbox->{$name};
  my $last = $synced->{$name};
  next if defined $h && defined $s && $h eq $s;
  if (defined $s && (!defined $last || $last ne $s)) {
    # The sandbox made or moved this ref. Only the sandbox has it: it stays the sandbox's.
    next if !defined $h && !defined $last;
    if (sandbox_only($s)) {
      (my $short = $name) =~ s{^refs/}{};
      print $updates "update $prefix/$short $s\n";
      print $saved "$prefix/$short\n";
    }
  }
  if (defined $h) { print $updates "update $name $h\n"; }
  elsif (defined $s) { print $updates "delete $name $s\n"; }
}
# A detached HEAD at a commit of the sandbox's own (a branch's commits are saved with the branch).
if ($sandbox_head =~ /^[0-9a-f]{40,64}$/ && $sandbox_head ne $synced_head && sandbox_only($sandbox_head)) {
  my $on_branch = grep { $sandbox->{$_} eq $sandbox_head } keys %$sandbox;
  if (!$on_branch) {
    print $updates "update $prefix/HEAD $sandbox_head\n";
    print $saved "$prefix/HEAD\n";
  }
}
close $updates;
close $saved;
unlink $tips_file;
