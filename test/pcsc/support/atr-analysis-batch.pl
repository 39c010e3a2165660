# Runs pcsc-tools' ATR_analysis on many ATRs in one Perl process, for the comparison test.
#
# ATR_analysis is a script that reads one ATR from @ARGV and ends with `exit` in many places, so
# it is compiled once here as the body of a sub, and each ATR (one per line on stdin) is analysed
# in a forked child: the child starts with fresh globals and may exit wherever the script does.
# Each analysis is followed by a line "=== end of analysis ===" on stdout.
use strict;
use warnings;

$| = 1;
my $script = shift @ARGV or die "usage: perl atr-analysis-batch.pl /usr/bin/ATR_analysis < atrs\n";
open my $fh, '<', $script or die "$script: $!\n";
my $source = do { local $/; <$fh> };
close $fh;
{
  # The script's file-level lexicals become the sub's; its named subs close over the first
  # instance, which is the one each child's single call uses.
  local $SIG{__WARN__} = sub { warn @_ unless $_[0] =~ /will not stay shared/ };
  eval "sub analyse_one {\n#line 1 \"$script\"\n$source\n}\n1" or die "compiling $script: $@";
}
while (my $atr = <STDIN>) {
  chomp $atr;
  next if $atr eq '';
  my $pid = fork;
  die "fork: $!\n" unless defined $pid;
  if ($pid == 0) {
    @ARGV = split / /, $atr;
    analyse_one();
    exit 0;
  }
  waitpid $pid, 0;
  print "\n=== end of analysis ===\n";
}
