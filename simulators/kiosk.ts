export async function runKiosk(_opts: {
  daemon: boolean;
  netns: boolean;
  socket?: string;
  logLevel: string;
}): Promise<void> {}
