// Fans the reactor's price changes out to `price` subscribers: each (product, window) is computed
// once per change and the same object goes to every subscriber of it.
import type { Reactor } from '../runtime/reactor.ts';

type PriceView = NonNullable<ReturnType<Reactor['views']['price']>>;

export interface PriceHub {
  /** Calls `onPrice` with every new value of the product's window; returns the unfollow function. */
  follow(product: string, window: string, onPrice: (price: PriceView) => void): () => void;
  stop(): void;
}

export function startPriceHub(reactor: Reactor): PriceHub {
  // product → window → listeners
  const followers = new Map<string, Map<string, Set<(price: PriceView) => void>>>();

  const stopListening = reactor.onChange((product) => {
    const windows = followers.get(product);
    if (!windows) return;
    for (const [window, listeners] of windows) {
      const price = reactor.views.price(product, window);
      if (!price) continue;
      for (const listener of listeners) listener(price);
    }
  });

  return {
    follow(product, window, onPrice) {
      const windows = followers.get(product) ?? new Map<string, Set<(price: PriceView) => void>>();
      followers.set(product, windows);
      const set = windows.get(window) ?? new Set<(price: PriceView) => void>();
      windows.set(window, set);
      set.add(onPrice);
      return () => {
        set.delete(onPrice);
        if (set.size > 0 || windows.get(window) !== set) return;
        windows.delete(window);
        if (windows.size === 0 && followers.get(product) === windows) followers.delete(product);
      };
    },
    stop: stopListening,
  };
}
