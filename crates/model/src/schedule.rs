//! When a device is online and when its user signs in.
//!
//! Office-hours devices are on from their workday start for the workday length on weekdays;
//! intermittent laptops likewise, but only on weekdays drawn as "present"; always-on devices
//! are on all the time and their users sign in each weekday morning. All in local time; the
//! whole fleet shares one time zone (assumption, MODEL.md).

use crate::domain::UsagePattern;
use crate::scenario::{DAY, Minute, Usage};
use fleetsim_engine::{KeyedStream, Purpose, RandomStreams};

/// Draws whether an intermittent laptop is used on a given day.
pub const PRESENCE: Purpose = Purpose::named("presence");

/// The calendar facts a schedule needs, shared by every device.
#[derive(Clone, Debug)]
pub struct Calendar {
    /// Weekday of day 0, 0 = Monday.
    pub first_weekday: u32,
    /// End of the simulation (exclusive).
    pub horizon: Minute,
    /// Usage settings.
    pub usage: Usage,
    /// Random streams (for laptop presence).
    pub streams: RandomStreams,
}

/// One device's usage, as stored per device.
#[derive(Clone, Copy, Debug)]
pub struct DeviceSchedule {
    /// Global device id (keys the presence draws).
    pub device: u32,
    /// Usage pattern.
    pub usage: UsagePattern,
    /// Minute of the day when this device's workday starts.
    pub day_start: u16,
}

/// Smallest `x >= t` with `x ≡ phase (mod period)`.
#[inline]
pub fn round_up(t: Minute, period: Minute, phase: Minute) -> Minute {
    let r = (phase % period + period - t % period) % period;
    t.saturating_add(r)
}

impl Calendar {
    /// Whether `day` (0-based) is Monday to Friday.
    #[inline]
    pub fn is_workday(&self, day: u32) -> bool {
        (self.first_weekday + day) % 7 < 5
    }

    /// The online window that starts on `day`, if the device is used that day.
    #[inline]
    pub fn window(&self, d: &DeviceSchedule, day: u32) -> Option<(Minute, Minute)> {
        if !self.is_workday(day) {
            return None;
        }
        if d.usage == UsagePattern::LaptopIntermittent
            && self.streams.unit(d.device, PRESENCE, u64::from(day)) >= self.usage.laptop_presence
        {
            return None;
        }
        let start = day * DAY + Minute::from(d.day_start);
        Some((start, start + self.usage.workday_length))
    }

    /// Whether an intermittent laptop is online at some time of `day` (a workday on which it
    /// is present), given its presence draws (`streams.keyed(device, PRESENCE)`): as
    /// [`Calendar::window`] decides, with the key's mixing done once per device instead of
    /// once per day.
    #[inline]
    pub fn laptop_present(&self, presence: &KeyedStream, day: u32) -> bool {
        self.is_workday(day) && presence.unit(u64::from(day)) < self.usage.laptop_presence
    }

    /// [`Calendar::window`] of an intermittent laptop whose workday starts at `day_start`
    /// ([`Calendar::laptop_present`]).
    #[cfg(test)]
    pub fn laptop_window(
        &self,
        presence: &KeyedStream,
        day_start: u16,
        day: u32,
    ) -> Option<(Minute, Minute)> {
        if !self.laptop_present(presence, day) {
            return None;
        }
        let start = day * DAY + Minute::from(day_start);
        Some((start, start + self.usage.workday_length))
    }

    /// The first window that ends after `t`, as `(max(start, t), end)`.
    fn window_from(&self, d: &DeviceSchedule, t: Minute) -> Option<(Minute, Minute)> {
        let last_day = self.horizon / DAY;
        let mut day = (t / DAY).saturating_sub(1);
        while day <= last_day {
            if let Some((s, e)) = self.window(d, day) {
                if e > t {
                    return Some((s.max(t), e)).filter(|w| w.0 < self.horizon);
                }
            }
            day += 1;
        }
        None
    }

    /// The first minute `>= t` at which the device is online, before the horizon.
    pub fn next_online(&self, d: &DeviceSchedule, t: Minute) -> Option<Minute> {
        if t >= self.horizon {
            return None;
        }
        match d.usage {
            UsagePattern::AlwaysOn => Some(t),
            _ => self.window_from(d, t).map(|w| w.0),
        }
    }

    /// The first minute `>= t` with `minute ≡ phase (mod period)` at which the device is online:
    /// when a periodic task (policy poll, join task) next runs.
    pub fn next_online_tick(
        &self,
        d: &DeviceSchedule,
        t: Minute,
        period: Minute,
        phase: Minute,
    ) -> Option<Minute> {
        if d.usage == UsagePattern::AlwaysOn {
            return Some(round_up(t, period, phase)).filter(|x| *x < self.horizon);
        }
        let mut from = t;
        loop {
            let (s, e) = self.window_from(d, from)?;
            let tick = round_up(s, period, phase);
            if tick < e {
                return Some(tick).filter(|x| *x < self.horizon);
            }
            from = e;
        }
    }

    /// The first user sign-in at or after `t`.
    pub fn next_sign_in(&self, d: &DeviceSchedule, t: Minute) -> Option<Minute> {
        let last_day = self.horizon / DAY;
        let mut day = t / DAY;
        while day <= last_day {
            let start = match d.usage {
                UsagePattern::AlwaysOn => {
                    Some(day * DAY + self.usage.always_on_sign_in).filter(|_| self.is_workday(day))
                }
                _ => self.window(d, day).map(|w| w.0),
            };
            if let Some(s) = start.filter(|s| *s >= t) {
                return Some(s).filter(|s| *s < self.horizon);
            }
            day += 1;
        }
        None
    }
}

/// Management points serve 25,000 clients each; a site with more clients polls proportionally
/// less often (assumption: the interval stretches by clients / capacity).
pub fn site_poll_interval(poll: Minute, clients: u64, management_points: u32) -> Minute {
    let capacity = u64::from(management_points) * 25_000;
    if clients <= capacity {
        poll
    } else {
        (u64::from(poll) * clients)
            .div_ceil(capacity)
            .min(u64::from(DAY) * 30) as Minute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal() -> Calendar {
        Calendar {
            first_weekday: 0, // Monday
            horizon: 14 * DAY,
            usage: Usage {
                workday_start: 420,
                workday_start_spread: 0,
                workday_length: 600,
                laptop_presence: 0.5,
                always_on_sign_in: 480,
            },
            streams: RandomStreams::new(1),
        }
    }

    fn dev(usage: UsagePattern) -> DeviceSchedule {
        DeviceSchedule {
            device: 3,
            usage,
            day_start: 480,
        }
    }

    #[test]
    fn round_up_hits_the_phase() {
        assert_eq!(round_up(0, 60, 15), 15);
        assert_eq!(round_up(15, 60, 15), 15);
        assert_eq!(round_up(16, 60, 15), 75);
        assert_eq!(round_up(100, 30, 0), 120);
    }

    #[test]
    fn office_device_polls_only_in_office_hours() {
        let c = cal();
        let d = dev(UsagePattern::OfficeHours);
        // Monday 00:00 -> first poll at phase 10 after 08:00 is 08:10.
        assert_eq!(c.next_online_tick(&d, 0, 60, 10), Some(490));
        // Monday 17:55 (window ends 18:00) -> Tuesday 08:10.
        assert_eq!(c.next_online_tick(&d, 1075, 60, 10), Some(DAY + 490));
        // Friday evening -> Monday of the next week.
        assert_eq!(
            c.next_online_tick(&d, 4 * DAY + 1100, 60, 10),
            Some(7 * DAY + 490)
        );
        assert_eq!(c.next_online(&d, 5 * DAY), Some(7 * DAY + 480));
        assert_eq!(c.next_online(&d, 500), Some(500));
    }

    #[test]
    fn always_on_device_is_always_online_but_signs_in_on_weekdays() {
        let c = cal();
        let d = dev(UsagePattern::AlwaysOn);
        assert_eq!(
            c.next_online_tick(&d, 5 * DAY + 1, 60, 0),
            Some(5 * DAY + 60)
        );
        assert_eq!(c.next_sign_in(&d, 5 * DAY), Some(7 * DAY + 480));
        assert_eq!(c.next_sign_in(&d, 480), Some(480));
    }

    #[test]
    fn laptops_are_off_on_some_weekdays_and_nothing_runs_past_the_horizon() {
        let c = cal();
        let d = dev(UsagePattern::LaptopIntermittent);
        let present = (0..10).filter(|day| c.window(&d, *day).is_some()).count();
        let key = c.streams.keyed(d.device, PRESENCE);
        for day in 0..14 {
            assert_eq!(c.laptop_window(&key, d.day_start, day), c.window(&d, day));
        }
        assert!(present < 10, "a laptop with presence 0.5 misses some days");
        assert_eq!(c.next_online(&d, 14 * DAY), None);
        assert_eq!(
            c.next_online_tick(&dev(UsagePattern::AlwaysOn), 14 * DAY - 1, 60, 0),
            None
        );
    }
}
