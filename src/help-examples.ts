/** The examples under `foldersync --help`: the forms a newcomer needs first. */
export const HELP_EXAMPLES = `
Examples:
  foldersync -s ~/Documents -r /mnt/usb/docs --once       one pass, then exit with its status
  foldersync -s ~/Photos -r nas:/volume1/photos -i 1h     a daemon: a pass every hour
  foldersync --config jobs.yaml                           a daemon running every job of a config file
  foldersync --config jobs.yaml --once --job photos       one pass of one job of it

A running daemon reads commands on stdin (type help): status, sync [JOB...], pause [JOB...],
resume [JOB...], add NAME -s SRC -r DST [-i DURATION] [options], remove NAME, quit.
From another terminal, or for a daemon under systemd:
  foldersync ctl status                                   the one running daemon
  foldersync ctl --config jobs.yaml sync photos           the daemon of that config file
  foldersync ctl --socket PATH pause docs                 a daemon by its control socket
`;
