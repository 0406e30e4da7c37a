# ~/.bashrc of the sandbox user (from the image's home skeleton).
case $- in *i*) ;; *) return ;; esac
HISTCONTROL=ignoreboth
HISTSIZE=10000
HISTFILESIZE=20000
shopt -s histappend checkwinsize
if [ -f /usr/share/bash-completion/bash_completion ]; then . /usr/share/bash-completion/bash_completion; fi
PS1='\u@sandbox:\w\$ '
if [ -f "$HOME/.iterate/bashrc" ]; then . "$HOME/.iterate/bashrc"; fi
